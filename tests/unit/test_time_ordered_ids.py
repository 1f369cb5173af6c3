"""Ids of the proxy's request log rows (integration_hub/db/types.py): UUIDs in version 7's
layout, so that a later row's id sorts after an earlier one's."""

from __future__ import annotations

import time
import uuid

from integration_hub.db.types import time_ordered_uuid


def test_an_id_is_a_version_7_uuid_carrying_its_time_in_milliseconds():
    before = time.time_ns() // 1_000_000
    value = time_ordered_uuid()
    after = time.time_ns() // 1_000_000

    parsed = uuid.UUID(value)
    assert str(parsed) == value
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert before <= parsed.int >> 80 <= after


def test_ids_of_later_milliseconds_sort_after_earlier_ones_and_never_repeat():
    earlier = [time_ordered_uuid() for _ in range(1000)]
    time.sleep(0.002)
    later = [time_ordered_uuid() for _ in range(1000)]

    assert max(earlier) < min(later)
    assert len(set(earlier + later)) == 2000


def test_the_random_part_differs_within_one_millisecond():
    values = [uuid.UUID(time_ordered_uuid()).int & ((1 << 76) - 1) for _ in range(200)]
    assert len(set(values)) == 200
