"""How many integrations a caller can read, remembered per process between changes.

The integration page's exact ``total`` counts every integration the caller can read: work
in proportion to that number (7,143 rows at 100,000 integrations, docs/performance.md,
section 3) where the page itself costs the same at every size. The count depends only on
tables whose every committed change moves the database's change generation
(``db/generations.py``: integrations, shares, teams, their members, users, tenants), so a
count taken at one generation holds until the generation moves. Each entry is kept with
the generation it was counted at and used only while ``current()`` still answers that
generation; ``None`` (nobody can tell what changed, e.g. PostgreSQL's listener is down)
means counting every time, as before. ``total`` stays exact: never an estimate, never
older than the last change this process has been told of (docs/decisions.md,
"Performance").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

# Filters whose columns are all on watched tables; a tag lives in ``tags`` and
# ``integration_tags``, which move no generation: a list filtered by tag is always counted.
CACHEABLE_FILTERS = ("q", "type", "category", "mode", "supports_upload", "auth_type")
MAX_ENTRIES = 4096  # about a megabyte at most: one small tuple per caller and filter set
MAX_FILTER_LENGTH = 128  # longer filter text is never part of a key (MAX_ENTRIES holds)


class Totals:
    """A bounded, thread-safe map: (tenant, the caller's principals, filters) -> the total
    counted at a generation (least recently used entries go first)."""

    def __init__(self, generation: Callable[[], int | None], size: int = MAX_ENTRIES) -> None:
        self._generation = generation
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, key: Hashable | None) -> tuple[int | None, int | None]:
        """(the generation now, the total counted at it or None). Read the generation
        before counting and ``remember`` the count under it: a change committed in between
        leaves the entry behind an older generation, never a newer one."""
        if key is None:
            return None, None
        generation = self._generation()
        if generation is None:
            return None, None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != generation:
                return generation, None
            self._entries.move_to_end(key)
            return generation, entry[1]

    def remember(self, key: Hashable | None, generation: int | None, total: int) -> None:
        if key is None or generation is None:
            return
        with self._lock:
            self._entries[key] = (generation, total)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


def key_of(tenant_id: str, principals: list[str] | None,
           filters: Mapping[str, Any]) -> Hashable | None:
    """What a total depends on: the tenant, the caller's principal ids (None: a superuser,
    who reads the whole tenant) and the filters; None when it cannot be cached."""
    if any(value is not None for name, value in filters.items()
           if name not in CACHEABLE_FILTERS):
        return None
    if any(isinstance(value, str) and len(value) > MAX_FILTER_LENGTH
           for value in filters.values()):
        return None  # a caller's long search text is counted, not kept
    return (tenant_id, None if principals is None else tuple(sorted(principals)),
            tuple((name, filters.get(name)) for name in CACHEABLE_FILTERS))
