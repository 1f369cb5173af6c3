"""Importing records files over HTTP: ``POST /api/integrations/{id}/import`` (multipart).

A good file answers its counts and its rows become records (read back through the
records API); a file with errors is refused whole (422 ``import_invalid`` with line
numbers) and leaves the store exactly as it was, unless ``partial=true``.
"""

import dataclasses
import io
import threading

import pytest

from tests.support.problems import assert_problem


@pytest.fixture
def integration(make_integration):
    """An integration mia may write to."""
    return make_integration("Records", type="custom", auth_type="none", shares={"mia": 2})


@pytest.fixture
def import_limit(app, monkeypatch):
    """Factory: make imports accept at most ``size`` bytes for this test only."""

    def limit(size: int) -> int:
        settings = dataclasses.replace(app.config["HUB_SETTINGS"], import_max_bytes=size)
        monkeypatch.setitem(app.config, "HUB_SETTINGS", settings)
        return size

    return limit


def upload(client, caller, integration, content: bytes, filename="data.csv", **form):
    fields = {name: str(value).lower() if isinstance(value, bool) else value
              for name, value in form.items()}
    return client.post(f"/api/integrations/{integration}/import", headers=caller.headers,
                       data={"resources_file": (io.BytesIO(content), filename), **fields},
                       content_type="multipart/form-data")


def imported(answer, created: int, updated: int = 0, errors=(), fmt="csv",
             model="resources") -> dict:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["created"] == created and body["updated"] == updated
    assert body["errors"] == list(errors)
    assert body["format"] == fmt and body["model"] == model
    return body



def refused(answer, *lines: int) -> list[dict]:
    """A refused file: 422 import_invalid, nothing created or updated, the lines named."""
    body = assert_problem(answer, 422, "import_invalid")
    assert body["created"] == 0 and body["updated"] == 0
    assert all(set(error) == {"line", "message"} for error in body["errors"])
    assert [error["line"] for error in body["errors"]] == list(lines)
    return body["errors"]


def stored(client, caller, integration, **query) -> dict:
    """Every live record: {(model, id): data}."""
    answer = client.get(f"/api/integrations/{integration}/records", headers=caller.headers,
                        query_string={"limit": 500, **query})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    page = answer.get_json()
    assert page["total"] == page["count"]
    return {(item["model"], item["id"]): item["data"] for item in page["_embedded"]["inf:record"]}


def typed(data: dict) -> dict:
    """12 and 12.0 compare equal: compare the types too."""
    return {name: (type(value).__name__, value) for name, value in data.items()}


# -- good files ---------------------------------------------------------------------------------

def test_csv_import_stores_typed_rows(client, member, integration):
    content = (b"id,name,amount,code,note\n"
               b"1,Alice,12,007,\n"
               b"007,Bob,-3.5,1234567890123456,hello\n"
               b'3,"Carol, Jr.",1e3,0,"multi\nline"\n')

    body = imported(upload(client, member, integration, content), created=3)

    links = body["_links"]
    assert links["self"]["href"] == f"/api/integrations/{integration}/import"
    assert links["inf:records"]["href"] == f"/api/integrations/{integration}/records"
    assert links["inf:integration"]["href"] == f"/api/integrations/{integration}"
    records = stored(client, member, integration)
    assert set(records) == {("resources", "1"), ("resources", "007"), ("resources", "3")}
    assert typed(records[("resources", "1")]) == typed(
        {"id": "1", "name": "Alice", "amount": 12, "code": "007", "note": None})
    assert typed(records[("resources", "007")]) == typed(
        {"id": "007", "name": "Bob", "amount": -3.5, "code": "1234567890123456", "note": "hello"})
    assert typed(records[("resources", "3")]) == typed(
        {"id": "3", "name": "Carol, Jr.", "amount": 1000.0, "code": 0, "note": "multi\nline"})


def test_csv_with_bom_crlf_and_blank_lines(client, member, integration):
    content = b"\xef\xbb\xbf\r\nid,city\r\n\r\nb1,K\xc3\xb6ln\r\n\r\nb2,\xe6\x9d\xb1\xe4\xba\xac\r\n"

    imported(upload(client, member, integration, content), created=2)

    assert stored(client, member, integration) == {
        ("resources", "b1"): {"id": "b1", "city": "Köln"},
        ("resources", "b2"): {"id": "b2", "city": "東京"}}


def test_jsonl_import_keeps_the_objects(client, member, integration):
    content = (b'{"id": "a", "n": 1, "tags": ["x", "y"], "nested": {"ok": true, "none": null}}\r\n'
               b"\n"
               b'  {"id": 7, "price": 0.25, "name": "caf\xc3\xa9 \\u2028 line"}\n')

    imported(upload(client, member, integration, content, "data.jsonl"), created=2, fmt="jsonl")

    records = stored(client, member, integration)
    assert records[("resources", "a")] == {"id": "a", "n": 1, "tags": ["x", "y"],
                                           "nested": {"ok": True, "none": None}}
    assert typed(records[("resources", "7")]) == typed(
        {"id": 7, "price": 0.25, "name": "café \u2028 line"})


def test_jsonl_values_every_database_stores(client, member, integration):
    content = (b'{"id": "1", "emoji": "\\ud83d\\ude00", "tiny": 1e-400, "big": 1e308, '
               b'"deep": ' + b"[" * 99 + b"]" * 99 + b', "long": ' + b"9" * 300 + b"}\n")
    imported(upload(client, member, integration, content), created=1, fmt="jsonl")
    data = stored(client, member, integration)[("resources", "1")]
    assert data["emoji"] == "\U0001F600" and data["tiny"] == 0
    assert float(data["big"]) == 1e308  # PostgreSQL's jsonb answers it as a 309-digit integer
    assert data["long"] == int("9" * 300)
    depth, value = 1, data["deep"]
    while value:
        depth, value = depth + 1, value[0]
    assert depth == 99


def test_format_is_recognised_by_content_not_name(client, member, integration):
    imported(upload(client, member, integration, b'{"id": "j"}\n', "data.csv"),
             created=1, fmt="jsonl")
    imported(upload(client, member, integration, b"id\nc\n", "data.jsonl"), created=1)
    assert set(stored(client, member, integration)) == {("resources", "j"), ("resources", "c")}


def test_model_form_field_chooses_the_model(client, member, integration):
    imported(upload(client, member, integration, b"id,total\no1,5\n", model="orders"),
             created=1, model="orders")
    imported(upload(client, member, integration, b"id,total\no1,6\n"), created=1)

    assert stored(client, member, integration) == {("orders", "o1"): {"id": "o1", "total": 5},
                                                   ("resources", "o1"): {"id": "o1", "total": 6}}
    assert set(stored(client, member, integration, model="orders")) == {("orders", "o1")}


def test_reimport_upserts_by_id(client, member, integration):
    imported(upload(client, member, integration, b"id,name,n\n1,a,1\n2,b,2\n3,c,3\n"), created=3)
    before = {item["id"]: item for item in client.get(
        f"/api/integrations/{integration}/records", headers=member.headers
    ).get_json()["_embedded"]["inf:record"]}

    # 1 unchanged, 2 changed, 3 left out, 4 new
    imported(upload(client, member, integration, b"id,name,n\n1,a,1\n2,B,2\n4,d,4\n"),
             created=1, updated=1)

    after = {item["id"]: item for item in client.get(
        f"/api/integrations/{integration}/records", headers=member.headers
    ).get_json()["_embedded"]["inf:record"]}
    assert {key: item["data"] for key, item in after.items()} == {
        "1": {"id": "1", "name": "a", "n": 1}, "2": {"id": "2", "name": "B", "n": 2},
        "3": {"id": "3", "name": "c", "n": 3}, "4": {"id": "4", "name": "d", "n": 4}}
    assert after["1"]["updatedAt"] == before["1"]["updatedAt"]  # unchanged: not touched
    assert after["3"]["updatedAt"] == before["3"]["updatedAt"]
    # The same file again changes nothing.
    imported(upload(client, member, integration, b"id,name,n\n1,a,1\n2,B,2\n4,d,4\n"), created=0)
    # A JSON Lines file replaces the whole data of a record.
    imported(upload(client, member, integration, b'{"id": "1", "name": "a"}\n'),
             created=0, updated=1, fmt="jsonl")
    assert stored(client, member, integration)[("resources", "1")] == {"id": "1", "name": "a"}


def test_concurrent_imports_of_the_same_new_ids(app, member, integration):
    content = b"id,v\n" + b"".join(b"%d,1\n" % n for n in range(300))
    answers, start = [], threading.Barrier(4)

    def send():
        client = app.test_client()
        start.wait()
        answers.append(upload(client, member, integration, content))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [answer.status_code for answer in answers] == [200] * 4
    # Each id is created once, by whichever import came first; the others find it there.
    assert sorted(answer.get_json()["created"] for answer in answers) == [0, 0, 0, 300]
    assert len(stored(app.test_client(), member, integration)) == 300


def test_partial_imports_the_good_lines_and_reports_the_bad(client, member, integration):
    content = b"id,name\n1,a\n2,b,extra\n,nameless\n3,c\n1,again\n"
    expected = [
        {"line": 3, "message": "expected 2 fields like the header, found 3"},
        {"line": 4, "message": "id is missing (a non-empty string or an integer)"},
        {"line": 6, "message": 'duplicate id "1" (first on line 2)'},
    ]

    imported(upload(client, member, integration, content, partial=True), created=2,
             errors=expected)

    assert stored(client, member, integration) == {("resources", "1"): {"id": "1", "name": "a"},
                                                   ("resources", "3"): {"id": "3", "name": "c"}}


def test_partial_jsonl_reports_line_numbers(client, member, integration):
    content = b'{"id": "a"}\n\n{"id": "b",}\n[1]\n{"id": "c"}\n'
    answer = upload(client, member, integration, content, partial=True)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    errors = answer.get_json()["errors"]
    imported(answer, created=2, fmt="jsonl", errors=errors)
    assert [error["line"] for error in errors] == [3, 4]
    assert errors[0]["message"].startswith("not valid JSON: ")  # Python's words, and column
    assert errors[1]["message"] == "each line must be one JSON object"
    assert set(stored(client, member, integration)) == {("resources", "a"), ("resources", "c")}


def test_without_partial_a_single_bad_line_refuses_the_file(client, member, integration):
    imported(upload(client, member, integration, b"id,name\n1,a\n"), created=1)

    errors = refused(upload(client, member, integration, b"id,name\n1,changed\n2,b\n3\n"), 4)

    assert errors == [{"line": 4, "message": "expected 2 fields like the header, found 1"}]
    assert stored(client, member, integration) == {("resources", "1"): {"id": "1", "name": "a"}}


def test_a_header_only_file_imports_nothing(client, member, integration):
    imported(upload(client, member, integration, b"id,name\n"), created=0)
    assert stored(client, member, integration) == {}


# -- bad files ----------------------------------------------------------------------------------

BAD_FILES = {
    "no id column": (b"name,amount\nA,1\n", [1], "the header row has no id column"),
    "duplicate column": (b"id,name,name\n1,a,b\n", [1], 'the header row repeats "name"'),
    "empty column name": (b"id,,name\n1,a,b\n", [1], "the header row has an empty column name"),
    "ragged rows": (b"id,name\n1,a\n2,b,c\n3\n", [3, 4], "expected 2 fields like the header"),
    "unclosed quote": (b'id,name\n1,"abc\n2,d\n', [2], "not valid CSV"),
    "bad JSON line": (b'{"id": "1"}\n{"id": "2",, }\n', [2], "not valid JSON"),
    "NaN in JSON": (b'{"id": "1", "x": NaN}\n', [1], "not valid JSON: NaN is not a JSON number"),
    "JSON array line": (b'{"id": "1"}\n[{"id": "2"}]\n', [2], "each line must be one JSON object"),
    "JSON without id": (b'{"id": "1"}\n{"name": "x"}\n', [2], "id is missing"),
    "JSON float id": (b'{"id": 1.5}\n', [1], "id is missing"),
    "JSON boolean id": (b'{"id": true}\n', [1], "id is missing"),
    "CSV empty id": (b"id,name\n ,a\n", [2], "id is missing"),
    "id too long": (b"id\n" + b"x" * 257 + b"\n", [2], "id is longer than 256 characters"),
    "duplicate CSV ids": (b"id,name\n1,a\n2,b\n1,c\n", [4], 'duplicate id "1" (first on line 2)'),
    "duplicate JSON ids": (b'{"id": 1}\n{"id": "1"}\n', [2], 'duplicate id "1" (first on line 1)'),
    "JSON NUL escape": (b'{"id": "1", "x": "a\\u0000b"}\n', [1],
                        "a string holds a NUL character"),
    "JSON NUL in id": (b'{"id": "1\\u0000"}\n', [1], "a string holds a NUL character"),
    "JSON NUL in key": (b'{"id": "1", "k\\u0000": 1}\n', [1], "a string holds a NUL character"),
    "JSON lone surrogate": (b'{"id": "1", "x": ["\\ud800"]}\n', [1],
                            "a string holds an unpaired surrogate"),
    "JSON surrogate id": (b'{"id": "\\udc00"}\n', [1], "a string holds an unpaired surrogate"),
    "JSON huge float": (b'{"id": "1", "x": -1e400}\n', [1],
                        "not valid JSON: the number -1e400 is out of range"),
    "JSON huge integer": (b'{"id": "1", "x": 1' + b"0" * 400 + b"}\n", [1],
                          "not valid JSON: the number 1000"),
    "JSON nested too deep": (b'{"id": "1", "x": ' + b"[" * 100 + b"]" * 100 + b"}\n", [1],
                             "nested deeper than 100 levels"),
    "JSON nested far too deep": (b"[" * 50_000 + b"\n", [1], "nested deeper than 100 levels"),
    "empty file": (b"", [1], "the file is empty"),
    "blank file": (b"\n  \r\n\t\n", [1], "the file is empty"),
    "BOM only": (b"\xef\xbb\xbf", [1], "the file is empty"),
    "not UTF-8": (b"id,name\n1,caf\xe9\n", [2], "the file is not UTF-8 text"),
    "UTF-16": ("id,name\n1,a\n".encode("utf-16"), [1], "the file is not UTF-8 text"),
    "NUL character": (b"id,name\n1,a\n2,b\x00\n", [3], "the file holds a NUL character"),
}


@pytest.mark.parametrize("content, lines, message", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_refused_and_changes_nothing(client, member, integration, content, lines,
                                                   message):
    imported(upload(client, member, integration, b"id,name\n1,kept\n9,also kept\n"), created=2)
    before = stored(client, member, integration)

    errors = refused(upload(client, member, integration, content), *lines)

    assert all(error["message"].startswith(message) for error in errors), errors
    assert stored(client, member, integration) == before


@pytest.mark.parametrize("content, lines", [
    BAD_FILES["no id column"][:2], BAD_FILES["duplicate column"][:2], BAD_FILES["empty file"][:2],
    BAD_FILES["not UTF-8"][:2], BAD_FILES["NUL character"][:2],
    (b"id,name\n1\n2,b,c\n", [2, 3]), (b'[1]\n{"id": ""}\n', [1, 2]),
])
def test_partial_cannot_rescue_a_file_without_good_rows(client, member, integration, content,
                                                        lines):
    refused(upload(client, member, integration, content, partial=True), *lines)
    assert stored(client, member, integration) == {}


def test_bad_lines_are_numbered_in_the_file_not_in_the_rows(client, member, integration):
    # A quoted cell over three lines: the row after it starts on line 5.
    content = b'id,note\n1,"one\ntwo\nthree"\n2,x,y\n'
    assert refused(upload(client, member, integration, content), 5) == [
        {"line": 5, "message": "expected 2 fields like the header, found 3"}]


# -- refused requests ---------------------------------------------------------------------------

def test_the_size_limit(client, member, integration, import_limit):
    limit = import_limit(1000)
    exactly = b"id,text\n1," + b"x" * (limit - 11) + b"\n"
    assert len(exactly) == limit

    imported(upload(client, member, integration, exactly), created=1)
    before = stored(client, member, integration)

    just_over = b"id,text\n2," + b"y" * (limit - 10) + b"\n"
    assert len(just_over) == limit + 1
    body = assert_problem(upload(client, member, integration, just_over), 413,
                          "import_too_large")
    assert str(limit) in body["detail"]
    assert stored(client, member, integration) == before

    huge = b"id\n" + b"z\n" * 40_000
    assert_problem(upload(client, member, integration, huge), 413, "import_too_large")
    assert stored(client, member, integration) == before


def test_a_declared_content_length_over_the_limit_is_refused_unread(client, member, integration,
                                                                    import_limit):
    limit = import_limit(1000)
    boundary = "hubboundary"
    body = (f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="resources_file"; filename="a.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
            "id\r\nsmall\r\n"
            f"--{boundary}--\r\n").encode()
    path = f"/api/integrations/{integration}/import"
    content_type = f"multipart/form-data; boundary={boundary}"

    declared_over = client.post(path, headers=member.headers, data=body, content_type=content_type,
                                environ_overrides={"CONTENT_LENGTH": str(limit + 64 * 1024 + 1)})
    assert_problem(declared_over, 413, "import_too_large")
    assert stored(client, member, integration) == {}

    # The same body, honestly declared, is imported: the declared size alone decided.
    honest = client.post(path, headers=member.headers, data=body, content_type=content_type)
    imported(honest, created=1)


def test_a_chunked_body_over_the_limit_is_refused(client, member, integration, import_limit):
    limit = import_limit(1000)
    boundary = "hubboundary"
    body = (f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="resources_file"; filename="a.csv"\r\n\r\n'
            + "id\r\n" + "x\r\n" * (limit + 64 * 1024) + f"--{boundary}--\r\n").encode()
    answer = client.post(f"/api/integrations/{integration}/import",
                         headers={**member.headers, "Transfer-Encoding": "chunked"},
                         input_stream=io.BytesIO(body),
                         content_type=f"multipart/form-data; boundary={boundary}",
                         environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})
    assert_problem(answer, 413, "import_too_large")
    assert stored(client, member, integration) == {}


def test_the_default_limit_is_ten_mebibytes(app):
    assert app.config["HUB_SETTINGS"].import_max_bytes == 10 * 1024 * 1024


def test_missing_file_field_is_422(client, member, integration):
    answer = client.post(f"/api/integrations/{integration}/import", headers=member.headers,
                         data={"model": "resources"}, content_type="multipart/form-data")
    body = assert_problem(answer, 422, "validation_failed")
    assert "resources_file" in body["errors"]

    answer = client.post(f"/api/integrations/{integration}/import", headers=member.headers,
                         data={"other_file": (io.BytesIO(b"id\n1\n"), "a.csv")},
                         content_type="multipart/form-data")
    assert "resources_file" in assert_problem(answer, 422, "validation_failed")["errors"]
    assert stored(client, member, integration) == {}


def test_the_file_may_be_sent_as_file(client, member, integration):
    answer = client.post(f"/api/integrations/{integration}/import", headers=member.headers,
                         data={"file": (io.BytesIO(b"id,name\n1,Ada\n"), "people.csv"),
                               "model": "people"},
                         content_type="multipart/form-data")

    imported(answer, 1, model="people")
    assert stored(client, member, integration) == {("people", "1"): {"id": "1", "name": "Ada"}}


def test_file_and_resources_file_together_are_422(client, member, integration):
    answer = client.post(f"/api/integrations/{integration}/import", headers=member.headers,
                         data={"file": (io.BytesIO(b"id\n1\n"), "a.csv"),
                               "resources_file": (io.BytesIO(b"id\n2\n"), "b.csv")},
                         content_type="multipart/form-data")

    assert "file" in assert_problem(answer, 422, "validation_failed")["errors"]
    assert stored(client, member, integration) == {}


@pytest.mark.parametrize("name", ["resources_file", "file"])
def test_a_text_field_instead_of_a_file_is_422(client, member, integration, name):
    answer = client.post(f"/api/integrations/{integration}/import", headers=member.headers,
                         data={name: "id\n1\n"}, content_type="multipart/form-data")

    assert name in assert_problem(answer, 422, "validation_failed")["errors"]
    assert stored(client, member, integration) == {}


@pytest.mark.parametrize("kwargs", [
    {"json": {"resources_file": "id\n1\n"}},
    {"data": "id\n1\n", "content_type": "text/csv"},
    {"data": "resources_file=id", "content_type": "application/x-www-form-urlencoded"},
    {},
])
def test_anything_but_multipart_is_415(client, member, integration, kwargs):
    answer = client.post(f"/api/integrations/{integration}/import", headers=member.headers,
                         **kwargs)
    assert_problem(answer, 415, "unsupported_media_type")
    assert stored(client, member, integration) == {}


@pytest.mark.parametrize("form", [{"model": "bad model"}, {"model": ""}, {"model": "m" * 65},
                                  {"model": "-leading"}, {"model": "a/b"},
                                  {"partial": "perhaps"}, {"unknown": "x"}])
def test_bad_form_fields_are_422(client, member, integration, form):
    answer = upload(client, member, integration, b"id\n1\n", **form)
    body = assert_problem(answer, 422, "validation_failed")
    assert set(body["errors"]) & {"model", "partial", "unknown"}
    assert stored(client, member, integration) == {}


def test_model_names_that_are_allowed(client, member, integration):
    for model in ("Orders.v2", "a", "m" * 64, "x_y-z"):
        imported(upload(client, member, integration, b"id\n1\n", model=model), created=1,
                 model=model)
    assert len(stored(client, member, integration)) == 4


# -- who may import -----------------------------------------------------------------------------

def test_import_needs_write_access(client, admin, member, make_caller, make_integration):
    reader = make_caller("rita")
    stranger = make_caller("sam")
    foreign = make_caller("fred", tenant="other", superuser=True)
    integration = make_integration("Shared", type="custom", auth_type="none",
                                   shares={"rita": 1, "mia": 2})
    content = b"id,name\n1,a\n"

    assert_problem(upload(client, reader, integration, content), 403, "forbidden")
    assert stored(client, reader, integration) == {}  # rita may read, not write
    for outsider in (stranger, foreign):
        assert_problem(upload(client, outsider, integration, content), 404,
                       "integration_not_found")
    answer = client.post(f"/api/integrations/{integration}/import",
                         data={"resources_file": (io.BytesIO(content), "a.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 401
    assert stored(client, admin, integration) == {}

    imported(upload(client, member, integration, content), created=1)
    imported(upload(client, admin, integration, b"id,name\n1,b\n"), created=0, updated=1)
    assert_problem(upload(client, member, "no-such-integration", content), 404,
                   "integration_not_found")
