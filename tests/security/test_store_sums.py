"""``store sum`` answers JSON, and the same exact total on both databases (docs/api-conventions.md,
"Numbers"; docs/security.md, "Sums").

Numbers a user imports (or an upstream syncs) may be as large as a double holds, so their sum
may not be: SQLite added reals as doubles and answered ``Infinity``, which is not JSON (strict
parsers refuse the whole answer, others read a number that is not there), while PostgreSQL
added exactly. Now both add exactly; a total a double holds is a JSON number (an integer
exactly, a fraction as the nearest double), a larger one is its exact value as a decimal
string. And the hub's JSON encoder refuses ``NaN`` and ``Infinity`` wherever they come from.
"""

from __future__ import annotations

import io
import json
import sys
from decimal import Context, Decimal

import pytest
from sqlalchemy import text

from tests.support.problems import assert_problem

EXACT = Context(prec=2000)  # the oracle: every total below in full


@pytest.fixture
def integration(make_integration):
    return make_integration("Ledger", type="custom", auth_type="none", shares={"mia": 2})


def strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def import_lines(client, caller, integration, values: dict[str, list], model: str) -> None:
    """Records r0, r1, ... whose fields take the given values in turn (a JSON Lines file)."""
    count = max(len(column) for column in values.values())
    lines = [json.dumps({"id": f"r{n}", **{name: column[n] for name, column in values.items()
                                            if n < len(column)}}) for n in range(count)]
    answer = client.post(f"/api/integrations/{integration}/import", headers=caller.headers,
                         data={"resources_file": (io.BytesIO("\n".join(lines).encode()),
                                                  "ledger.jsonl"), "model": model})
    assert answer.status_code == 200, answer.get_data(as_text=True)


def summed(client, caller, integration, model: str, names) -> dict:
    answer = client.post(f"/api/integrations/{integration}/store", headers=caller.headers,
                         json={"op": "sum", "model": model, "fields": list(names)})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return strict_json(answer.get_data(as_text=True))["sums"]


def exact_total(column: list) -> Decimal:
    """The sum of the numbers as their JSON text writes them, in full."""
    total = Decimal(0)
    for value in column:
        total = EXACT.add(total, Decimal(json.dumps(value)))
    return total


def as_answered(total: Decimal):
    """docs/api-conventions.md, "Numbers": up to the largest double an integer or the nearest
    double, beyond it the exact value in plain decimal notation."""
    if abs(total) > Decimal(sys.float_info.max):
        text = format(total, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return int(total) if total == total.to_integral_value() else float(total)


LARGEST = 1.7976931348623157e308
COLUMNS = {
    "twice_max": [1e308, 1e308],                            # SQLite: Infinity
    "below_min": [-1e308, -1e308, -LARGEST],
    "max_plus": [LARGEST, 1e292],
    "mixed": [1e308, 1e308, 0.5, 7, -2],                     # reals and integers, a fraction
    "back_in_range": [1e308, 1e308, -1e308],                 # SQLite: Infinity - 1e308
    "beyond_int64": [10 ** 30, 10 ** 30, 1, -(2 ** 63)],     # SQLite: rounded to a double
    "int_beyond_double": [10 ** 308, 10 ** 308, 3],
    "tenths": [0.1, 0.2],                                    # SQLite: 0.30000000000000004
    "tiny": [5e-324, 1e308, 1e308],
}


def test_sums_are_exact_json_and_alike_on_both_databases(client, member, integration):
    import_lines(client, member, integration, COLUMNS, "ledger")

    sums = summed(client, member, integration, "ledger", COLUMNS)

    for name, column in COLUMNS.items():
        wanted = as_answered(exact_total(column))
        assert sums[name] == wanted and type(sums[name]) is type(wanted), name
    assert sums["twice_max"] == "2" + "0" * 308
    assert sums["back_in_range"] == 10 ** 308  # the exact total, not Infinity, not a string
    assert sums["mixed"].endswith("0005.5")


def test_a_decimal_string_total_reads_back_to_the_exact_value(client, member, integration):
    column = [LARGEST, LARGEST, 0.25]
    import_lines(client, member, integration, {"v": column}, "big")

    total = summed(client, member, integration, "big", ["v"])["v"]

    assert isinstance(total, str) and "e" not in total.lower()
    assert Decimal(total) == exact_total(column)


def test_a_total_of_more_digits_than_answered_is_a_problem_on_both_databases(
        client, session, member, integration):
    """Numbers the hub never stores (every number it accepts is one a double holds), written
    into its database by another tool: the total is refused, alike on both databases."""
    import_lines(client, member, integration, {"v": [1, 2]}, "foreign")
    jsonb = "CAST(:data AS jsonb)" if session.get_bind().dialect.name == "postgresql" else ":data"
    session.execute(text(f"UPDATE records SET data = {jsonb} WHERE integration_id = :i "
                         "AND model = 'foreign' AND record_id = 'r1'"),
                    {"data": '{"id": "r1", "v": 1e5000}', "i": integration})
    session.commit()

    answer = client.post(f"/api/integrations/{integration}/store", headers=member.headers,
                         json={"op": "sum", "model": "foreign", "fields": ["v"]})

    assert_problem(answer, 422, "sum_out_of_range")
    listed = client.get(f"/api/integrations/{integration}/records?model=foreign",
                        headers=member.headers)
    assert listed.status_code == 200 and strict_json(listed.get_data(as_text=True))


NON_FINITE = (b'{"id": "n1", "nan": NaN, "up": Infinity, "down": -Infinity, "huge": 1e400, '
              b'"ok": 1.5}')


def test_non_finite_numbers_from_an_upstream_are_answered_as_their_text(client, member,
                                                                        make_integration,
                                                                        upstream, run_queue):
    """Python's JSON parser takes NaN, Infinity and 1e400 (as inf); the hub's answers cannot
    carry them. A hostile upstream's answer, wrapped in an envelope or synced into records,
    keeps them as text, as the hub reads such numbers back from its database."""
    integration = make_integration(
        "Hostile", type="custom", auth_type="none", mode="shared", shares={"mia": 2},
        api_base_uri=f"{upstream.url}/v1",
        data={"sync": {"model": "odd", "path": "/odd", "itemsPath": "data"}})
    upstream.respond("/v1/odd", {"headers": [("Content-Type", "application/json")],
                                 "body": b'{"data": [' + NON_FINITE + b']}'}, sticky=True)
    texts = {"nan": "NaN", "up": "Infinity", "down": "-Infinity", "huge": "1e400", "ok": 1.5}

    wrapped = client.post(f"/api/integrations/{integration}/request", headers=member.headers,
                          json={"url": "odd", "envelope": True})
    assert wrapped.status_code == 200, wrapped.get_data(as_text=True)
    assert strict_json(wrapped.get_data(as_text=True))["data"]["data"] == [{"id": "n1", **texts}]

    assert client.post(f"/api/integrations/{integration}/sync", headers=member.headers
                       ).status_code == 202
    run_queue()
    record = client.get(f"/api/integrations/{integration}/records/odd/n1", headers=member.headers)
    assert record.status_code == 200, record.get_data(as_text=True)
    assert strict_json(record.get_data(as_text=True))["data"] == {"id": "n1", **texts}
    assert summed(client, member, integration, "odd", texts) == {
        "nan": 0, "up": 0, "down": 0, "huge": 0, "ok": 1.5}  # text is not added


def test_the_json_encoder_refuses_non_finite_numbers(app):
    for value in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError):
            app.json.dumps({"sums": {"v": value}})
