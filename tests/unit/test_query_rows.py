"""query_rows.collect: how many rows are asked of the driver, and where reading stops."""

from __future__ import annotations

import json

import pytest

from integration_hub.config import ConfigError, Settings
from integration_hub.databases.query_rows import POSTGRES_BATCH, collect


class Source:
    """A result of ``rows``; remembers each batch size asked for."""

    def __init__(self, rows):
        self.rows = list(rows)
        self.asked: list[int] = []

    def fetch(self, count: int):
        self.asked.append(count)
        taken, self.rows = self.rows[:count], self.rows[count:]
        return taken

    @property
    def read(self) -> int:
        return sum(self.asked)


def row_bytes(row) -> int:
    return len(json.dumps(list(row), separators=(",", ":"))) + 1


@pytest.mark.parametrize(("total", "limit", "answered", "truncated", "asked"), [
    (0, 10, 0, False, [1]),
    (1, 10, 1, False, [1, 2]),
    (3, 3, 3, False, [1, 2, 1]),          # exactly the limit: one more is asked, none comes
    (4, 3, 3, True, [1, 2, 1]),
    (100, 10, 10, True, [1, 2, 4, 4]),    # never more than limit + 1 in all
    (100, 100, 100, False, [1, 2, 4, 8] + [16] * 5 + [6]),
], ids=["empty", "one", "exactly-the-limit", "one-over", "many-over", "many"])
def test_rows_are_asked_for_in_doubling_batches_up_to_the_batch_and_the_limit(
        total, limit, answered, truncated, asked):
    source = Source((x,) for x in range(total))
    rows = collect(source.fetch, limit, 10**9, lambda value: value, POSTGRES_BATCH)
    assert len(rows.values) == answered
    assert rows.truncated is truncated
    assert source.asked == asked
    assert max(source.asked) <= POSTGRES_BATCH and source.read <= limit + 1


def test_without_a_batch_rows_are_read_one_at_a_time():
    source = Source((x,) for x in range(50))
    rows = collect(source.fetch, 20, 10**9, lambda value: value)
    assert len(rows.values) == 20 and rows.truncated is True
    assert source.asked == [1] * 21


def test_large_rows_after_small_ones_are_never_asked_for_more_than_a_batch_at_a_time():
    """What a row costs says nothing of the next: after 511 small rows, a batch sized on them
    would ask for hundreds of large ones at once."""
    source = Source([("",)] * 511 + [("x" * 100_000,)] * 500)
    rows = collect(source.fetch, 1000, 1_000_000, lambda value: value, POSTGRES_BATCH)
    assert rows.truncated is True and 511 < len(rows.values) < 511 + 10
    assert max(source.asked) <= POSTGRES_BATCH
    assert source.read - len(rows.values) <= POSTGRES_BATCH


def test_reading_stops_before_the_byte_cap():
    source = Source(("x" * 1000,) for _ in range(100))
    rows = collect(source.fetch, 1000, 10_000, lambda value: value, POSTGRES_BATCH)
    size = 2 + sum(row_bytes(row) for row in rows.values)
    assert rows.truncated is True
    assert size <= 10_000 < size + row_bytes(rows.values[0])
    assert len(rows.values) == 9
    # batches shrink to what the bytes left can hold at the largest row's size
    assert source.read <= len(rows.values) + 2


@pytest.mark.parametrize("first", [10_001, 50_000])
def test_a_first_row_over_the_cap_is_read_alone_and_not_answered(first):
    source = Source([("x" * first,), ("small",)])
    rows = collect(source.fetch, 1000, 10_000, lambda value: value, POSTGRES_BATCH)
    assert rows.values == [] and rows.truncated is True
    assert source.asked == [1]


def test_values_are_measured_as_answered():
    source = Source([(b"\x00" * 30,)] * 3)
    rows = collect(source.fetch, 10, 100, lambda value: "B" * 40)  # what the answer carries
    assert rows.values == [["B" * 40], ["B" * 40]] and rows.truncated is True
    assert rows.samples == [b"\x00" * 30]  # the driver's value, for the column's type


def test_the_byte_cap_is_a_setting(tmp_path):
    base = {"HUB_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://",
            "SECRET_KEY": "q7Vd2Lk9Xw4Rz8Pm3Tj6Hs1Nb5Gc0FyE"}
    assert Settings.from_env(base).query_max_bytes == 16 * 1024 * 1024
    assert Settings.from_env({**base, "HUB_QUERY_MAX_BYTES": "65536"}).query_max_bytes == 65536
    for wrong in ("100", "lots", "-1"):
        with pytest.raises(ConfigError, match="HUB_QUERY_MAX_BYTES"):
            Settings.from_env({**base, "HUB_QUERY_MAX_BYTES": wrong})


def test_each_column_keeps_its_first_value_that_is_not_none():
    source = Source([(None, 1, None), (None, "two", 3.0), (None, 4, 5.0)])
    rows = collect(source.fetch, 10, 10**9, str)
    assert rows.samples == [None, 1, 3.0]
