"""An integration's data.sync: typed settings, problems beyond the schema, and schedules."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration_hub.sync.settings import (
    DEFAULT_MAX_PAGES,
    Pagination,
    Schedule,
    SyncSettings,
    SyncSettingsInvalid,
    parse,
    problems,
)

CRON = "data.sync.schedule.cron"
NOT_CRON = "not a cron expression of five fields (minute hour day month weekday)"
NEVER = "the cron expression never runs (e.g. 31 February)"
PLUS_TWO = timezone(timedelta(hours=2))


def invalid(raw) -> dict[str, list[str]]:
    with pytest.raises(SyncSettingsInvalid) as caught:
        parse(raw)
    return caught.value.problems


# -- parse --------------------------------------------------------------------------------------

def test_no_sync_settings():
    assert parse(None) is None


def test_defaults():
    assert parse({"path": "/contacts"}) == SyncSettings(
        model="resources", path="/contacts", items_path=None, id_field="id", params={},
        pagination=Pagination(style="none", cursor_param="cursor", cursor_path="next_cursor",
                              page_param="page", first_page=1, size_param=None, size=None),
        schedule=None, max_pages=DEFAULT_MAX_PAGES)
    assert DEFAULT_MAX_PAGES == 1000


def test_everything_given():
    assert parse({
        "model": "contacts", "path": "/v2/contacts", "itemsPath": "data.items", "idField": "meta.key",
        "params": {"status": "active", "limit": 100, "archived": False, "deep": True, "ratio": 0.5},
        "pagination": {"style": "page", "pageParam": "p", "firstPage": 0, "sizeParam": "per_page",
                       "size": 100},
        "schedule": {"intervalMinutes": 60}, "maxPages": 5,
    }) == SyncSettings(
        model="contacts", path="/v2/contacts", items_path="data.items", id_field="meta.key",
        # booleans as JSON writes them, everything else as its text
        params={"status": "active", "limit": "100", "archived": "false", "deep": "true", "ratio": "0.5"},
        pagination=Pagination(style="page", page_param="p", first_page=0, size_param="per_page", size=100),
        schedule=Schedule(interval_minutes=60), max_pages=5)


@pytest.mark.parametrize("pagination, expected", [
    ("cursor", Pagination(style="cursor")), ("page", Pagination(style="page")),
    ("link", Pagination(style="link")), ("none", Pagination()), (None, Pagination()), ("", Pagination()),
    ({"style": "cursor"}, Pagination(style="cursor", cursor_param="cursor", cursor_path="next_cursor")),
    ({"style": "cursor", "cursorParam": "after", "cursorPath": "meta.next"},
     Pagination(style="cursor", cursor_param="after", cursor_path="meta.next")),
    ({"style": "page", "size": 20}, Pagination(style="page", size=20)),
])
def test_pagination(pagination, expected):
    assert parse({"path": "/x", "pagination": pagination}).pagination == expected


@pytest.mark.parametrize("raw, expected", [
    ({"itemsPath": ""}, None), ({"itemsPath": "data"}, "data"),
])
def test_an_empty_items_path_is_the_answer_itself(raw, expected):
    assert parse({"path": "/x", **raw}).items_path == expected


def test_an_empty_id_field_is_id():
    assert parse({"path": "/x", "idField": ""}).id_field == "id"


@pytest.mark.parametrize("schedule, expected", [
    ({"intervalMinutes": 15}, Schedule(interval_minutes=15)),
    ({"cron": "*/15 * * * *"}, Schedule(cron="*/15 * * * *")),
    ({"cron": "  0 9 * * mon-fri "}, Schedule(cron="0 9 * * mon-fri")),
    ({}, None), (None, None),
])
def test_schedule(schedule, expected):
    assert parse({"path": "/x", "schedule": schedule}).schedule == expected


@pytest.mark.parametrize("schedule", [{"cron": None}, {"intervalMinutes": None}, {"every": 5}])
def test_a_schedule_needs_an_interval_or_a_cron(schedule):
    assert invalid({"path": "/x", "schedule": schedule}) == {
        "data.sync.schedule": ["give intervalMinutes or cron"]}


@pytest.mark.parametrize("raw", [{}, {"path": 5}, {"path": None}, {"model": "x"}, "/contacts", ["/x"], 5])
def test_a_path_is_required(raw):
    assert invalid(raw) == {"data.sync.path": ["the path to list, e.g. /contacts"]}


@pytest.mark.parametrize("pagination", ["offset", "Cursor", {"style": "offset"}, {"cursorParam": "c"}])
def test_an_unknown_style_is_refused(pagination):
    assert invalid({"path": "/x", "pagination": pagination}) == {
        "data.sync.pagination.style": ["one of none, cursor, page, link"]}


def test_the_error_message_lists_every_problem():
    error = SyncSettingsInvalid({"b": ["two", "three"], "a": ["one"]})
    assert str(error) == "a: one; b: two, three"
    assert str(SyncSettingsInvalid({"data.sync.path": ["x"]})) == "data.sync.path: x"


# -- problems -----------------------------------------------------------------------------------

MODEL_RULE = ["letters, digits, '_', '.', '-'; at most 64, starting with a letter or digit"]


@pytest.mark.parametrize("model", ["", "-x", "_x", ".x", "a" * 65, "has space", "contacts\n", "caf\u00e9",
                                   "a/b", 5, None])
def test_a_bad_model(model):
    raw = {"path": "/x", "model": model}
    assert problems(raw) == {"data.sync.model": MODEL_RULE}
    assert invalid(raw) == {"data.sync.model": MODEL_RULE}


@pytest.mark.parametrize("model", ["contacts", "a" * 64, "Contacts_v2.x-y", "0abc", "A"])
def test_a_good_model(model):
    assert problems({"path": "/x", "model": model}) == {}
    assert parse({"path": "/x", "model": model}).model == model


@pytest.mark.parametrize("expression, problem", [
    ("* * * *", NOT_CRON), ("* * * * * *", NOT_CRON), ("0 0 * * * 2024", NOT_CRON), ("61 * * * *", NOT_CRON),
    ("60 * * * *", NOT_CRON), ("* 24 * * *", NOT_CRON), ("* * 32 * *", NOT_CRON), ("* * 0 * *", NOT_CRON),
    ("* * * 13 *", NOT_CRON), ("* * * * 8", NOT_CRON), ("*/0 * * * *", NOT_CRON), ("1,,2 * * * *", NOT_CRON),
    ("garbage", NOT_CRON), ("a b c d e", NOT_CRON), ("", NOT_CRON), ("@hourly", NOT_CRON),
    ("0 0 31 2 *", NEVER), ("0 0 30 2 *", NEVER), ("0 0 31 4 *", NEVER),
])
def test_a_bad_cron(expression, problem):
    raw = {"path": "/x", "schedule": {"cron": expression}}
    assert problems(raw) == {CRON: [problem]}
    assert invalid(raw) == {CRON: [problem]}


@pytest.mark.parametrize("expression", [
    "*/15 * * * *", "0 9 * * mon-fri", "30 2 1 * *", "0 0 29 2 *", "  0 9 * * *  ", "0 0 * * 7", "0 0 * * 0",
    "0 0 31 2 mon", "5-55/10 8-18 * 1,6,12 *", "0 9-9 * * *",
])
def test_a_good_cron(expression):
    assert problems({"path": "/x", "schedule": {"cron": expression}}) == {}


def test_problems_together_and_absent():
    raw = {"path": "/x", "model": "-", "schedule": {"cron": "* * *"}}
    assert problems(raw) == {"data.sync.model": MODEL_RULE, CRON: [NOT_CRON]}
    assert problems({"path": "/x", "schedule": {"intervalMinutes": 5}}) == {}
    assert problems({}) == {}


@pytest.mark.parametrize("raw", [None, "x", ["a"], 5])
def test_problems_of_something_not_an_object(raw):
    assert problems(raw) == {}


# -- schedules ----------------------------------------------------------------------------------

def at(*args, tz=UTC) -> datetime:
    return datetime(*args, tzinfo=tz)


@pytest.mark.parametrize("minutes, after, expected", [
    (90, at(2024, 5, 3, 10, 7, 30), at(2024, 5, 3, 11, 37, 30)),
    (1, at(2024, 12, 31, 23, 59), at(2025, 1, 1, 0, 0)),
    (60, at(2024, 5, 3, 12, 0, tz=PLUS_TWO), at(2024, 5, 3, 11, 0)),
    (60, datetime(2024, 5, 3, 12, 0), at(2024, 5, 3, 13, 0)),
])
def test_interval_next_run(minutes, after, expected):
    result = Schedule(interval_minutes=minutes).next_run(after)
    assert result == expected and result.utcoffset() == timedelta(0)


# 2024-05-03 is a Friday.
@pytest.mark.parametrize("cron, after, expected", [
    ("*/15 * * * *", at(2024, 5, 3, 10, 7, 30), at(2024, 5, 3, 10, 15)),
    ("*/15 * * * *", at(2024, 5, 3, 10, 15), at(2024, 5, 3, 10, 30)),
    ("*/15 * * * *", at(2024, 5, 3, 10, 15, 0, 1), at(2024, 5, 3, 10, 30)),
    ("*/15 * * * *", at(2024, 5, 3, 10, 14, 59, 999999), at(2024, 5, 3, 10, 15)),
    ("*/15 * * * *", at(2024, 5, 3, 23, 50), at(2024, 5, 4, 0, 0)),
    ("0 9 * * mon-fri", at(2024, 5, 3, 17, 0), at(2024, 5, 6, 9, 0)),
    ("0 9 * * mon-fri", at(2024, 5, 6, 8, 59), at(2024, 5, 6, 9, 0)),
    ("0 9 * * mon-fri", at(2024, 5, 6, 9, 0), at(2024, 5, 7, 9, 0)),
    ("30 2 1 * *", at(2024, 1, 31, 12, 0), at(2024, 2, 1, 2, 30)),
    ("30 2 1 * *", at(2024, 12, 15), at(2025, 1, 1, 2, 30)),
    ("0 0 29 2 *", at(2024, 3, 1), at(2028, 2, 29)),
    ("0 0 * * 0", at(2024, 5, 3, 17, 0), at(2024, 5, 5)),
    ("0 0 * * 7", at(2024, 5, 3, 17, 0), at(2024, 5, 5)),
    ("0 0 13 * fri", at(2024, 5, 1), at(2024, 5, 3)),  # day and weekday both set: either one
    # a range of one value is that value (croniter alone reads it as the whole field)
    ("0 9-9 * * *", at(2024, 5, 3, 10, 7), at(2024, 5, 4, 9, 0)),
    ("5-5,7 * * * *", at(2024, 5, 3, 10, 5, 30), at(2024, 5, 3, 10, 7)),
    ("5-5/10 * * * *", at(2024, 5, 3, 10, 6), at(2024, 5, 3, 11, 5)),
    ("0 0 * * mon-MON", at(2024, 5, 3, 17, 0), at(2024, 5, 6)),
    # cron is read in UTC whatever the zone of ``after``; naive is UTC
    ("0 9 * * *", at(2024, 5, 3, 8, 0, tz=PLUS_TWO), at(2024, 5, 3, 9, 0)),
    ("0 9 * * *", at(2024, 5, 3, 10, 30, tz=PLUS_TWO), at(2024, 5, 3, 9, 0)),
    ("0 9 * * *", at(2024, 5, 3, 11, 30, tz=PLUS_TWO), at(2024, 5, 4, 9, 0)),
    ("0 9 * * *", datetime(2024, 5, 3, 8, 0), at(2024, 5, 3, 9, 0)),
])
def test_cron_next_run(cron, after, expected):
    result = Schedule(cron=cron).next_run(after)
    assert result == expected and result.utcoffset() == timedelta(0)


def field_values(text: str, low: int, high: int) -> set[int]:
    """A cron field of numbers, ranges and steps, read by hand."""
    values: set[int] = set()
    for part in text.split(","):
        spread, _, step = part.partition("/")
        first, _, last = spread.partition("-")
        start, end = (low, high) if spread == "*" else (int(first), int(last or first))
        values.update(range(start, end + 1, int(step or 1)))
    return values


def cron_field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    span = st.tuples(number, number).map(sorted)
    step = st.integers(1, high - low + 1)
    part = st.one_of(
        number.map(str),
        span.map(lambda pair: f"{pair[0]}-{pair[1]}"),
        st.tuples(span, step).map(lambda p: f"{p[0][0]}-{p[0][1]}/{p[1]}"),
        step.map(lambda n: f"*/{n}"),
    )
    return st.just("*") | st.lists(part, min_size=1, max_size=3).map(",".join)


ZONES = st.sampled_from([UTC, PLUS_TWO, timezone(timedelta(hours=-8)),
                         timezone(timedelta(hours=5, minutes=30))])


def test_field_values_reads_cron_fields():
    assert field_values("*/15", 0, 59) == {0, 15, 30, 45}
    assert field_values("5-20/5,59", 0, 59) == {5, 10, 15, 20, 59}
    assert field_values("*", 0, 23) == set(range(24))


@settings(max_examples=200, deadline=None)
@given(cron_field(0, 59), cron_field(0, 23),
       st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=ZONES))
def test_cron_next_run_is_the_first_matching_minute(minute, hour, after):
    minutes, hours = field_values(minute, 0, 59), field_values(hour, 0, 23)
    expression = f"{minute} {hour} * * *"
    assert problems({"path": "/x", "schedule": {"cron": expression}}) == {}
    result = Schedule(cron=expression).next_run(after)
    assert result > after and result.utcoffset() == timedelta(0)
    assert result.second == 0 and result.microsecond == 0
    assert result.minute in minutes and result.hour in hours
    assert result - after <= timedelta(days=1)
    candidate = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    while candidate < result:
        assert not (candidate.minute in minutes and candidate.hour in hours), candidate
        candidate += timedelta(minutes=1)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 527040), st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=ZONES))
def test_interval_next_run_adds_the_minutes(minutes, after):
    result = Schedule(interval_minutes=minutes).next_run(after)
    assert result - after == timedelta(minutes=minutes) and result.utcoffset() == timedelta(0)


def test_schedule_key():
    assert Schedule(interval_minutes=60).key == '{"cron": null, "intervalMinutes": 60}'
    assert Schedule(cron="*/5 * * * *").key == '{"cron": "*/5 * * * *", "intervalMinutes": null}'
    first = parse({"path": "/x", "schedule": {"cron": " */5 * * * * "}}).schedule
    assert first.key == parse({"path": "/y", "model": "m", "schedule": {"cron": "*/5 * * * *"}}).schedule.key


SCHEDULES = st.builds(Schedule, interval_minutes=st.integers(1, 527040)) | st.builds(
    Schedule, cron=st.sampled_from(["*/15 * * * *", "*/5 * * * *", "0 9 * * mon-fri", "0 9 * * 1-5"]))


@given(SCHEDULES, SCHEDULES)
def test_schedule_keys_differ_exactly_when_schedules_do(one, other):
    assert (one.key == other.key) == (one == other)
