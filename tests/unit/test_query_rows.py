"""query_rows.collect: how many rows are asked of the driver, and where reading stops."""

from __future__ import annotations

import json

import pytest

from integration_hub.config import ConfigError, Settings
from integration_hub.services.query_rows import MAX_BATCH, collect


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
    (5000, 5000, 5000, False,
     [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000, 1000, 978]),
], ids=["empty", "one", "exactly-the-limit", "one-over", "many-over", "large"])
def test_rows_are_asked_for_in_doubling_batches_up_to_the_limit(total, limit, answered,
                                                               truncated, asked):
    source = Source((x,) for x in range(total))
    rows = collect(source.fetch, limit, 10**9, lambda value: value)
    assert len(rows.raw) == len(rows.values) == answered
    assert rows.truncated is truncated
    assert source.asked == asked
    assert max(source.asked) <= MAX_BATCH and source.read <= limit + 1


def test_reading_stops_before_the_byte_cap():
    source = Source(("x" * 1000,) for _ in range(100))
    rows = collect(source.fetch, 1000, 10_000, lambda value: value)
    size = 2 + sum(row_bytes(row) for row in rows.values)
    assert rows.truncated is True
    assert size <= 10_000 < size + row_bytes(rows.values[0])
    assert len(rows.values) == 9
    # batches shrink to what the bytes left can hold at the largest row's size
    assert source.read <= len(rows.values) + 2


@pytest.mark.parametrize("first", [10_001, 50_000])
def test_a_first_row_over_the_cap_is_read_alone_and_not_answered(first):
    source = Source([("x" * first,), ("small",)])
    rows = collect(source.fetch, 1000, 10_000, lambda value: value)
    assert rows.values == [] and rows.truncated is True
    assert source.asked == [1]


def test_values_are_measured_as_answered():
    source = Source([(b"\x00" * 30,)] * 3)
    rows = collect(source.fetch, 10, 100, lambda value: "B" * 40)  # what the answer carries
    assert rows.values == [["B" * 40], ["B" * 40]] and rows.truncated is True
    assert rows.raw == [(b"\x00" * 30,)] * 2


def test_the_byte_cap_is_a_setting(tmp_path):
    base = {"HUB_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://",
            "SECRET_KEY": "q7Vd2Lk9Xw4Rz8Pm3Tj6Hs1Nb5Gc0FyE"}
    assert Settings.from_env(base).query_max_bytes == 16 * 1024 * 1024
    assert Settings.from_env({**base, "HUB_QUERY_MAX_BYTES": "65536"}).query_max_bytes == 65536
    for wrong in ("100", "lots", "-1"):
        with pytest.raises(ConfigError, match="HUB_QUERY_MAX_BYTES"):
            Settings.from_env({**base, "HUB_QUERY_MAX_BYTES": wrong})
