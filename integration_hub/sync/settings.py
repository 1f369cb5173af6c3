"""An integration's ``data.sync`` read into plain values, and when its schedule runs next.

Pure: no database, no clock of its own. The JSON Schema in the catalogue's common data
schema checks the shape when an integration is saved; this module adds what a schema
cannot say (a valid cron expression) and gives the rest of the hub typed settings.

    {"model": "contacts", "path": "/contacts", "params": {"status": "active"},
     "itemsPath": "data", "idField": "id",
     "pagination": {"style": "cursor", "cursorParam": "cursor", "cursorPath": "next"},
     "schedule": {"intervalMinutes": 60}  or  {"cron": "*/15 * * * *"}}

``pagination`` may also be a bare style name (``"cursor"``, ``"page"``, ``"link"``,
``"none"``) with the defaults below. Cron expressions are evaluated in UTC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import CroniterError, croniter

from integration_hub.records.names import MODEL_PATTERN

STYLES = ("none", "cursor", "page", "link")
DEFAULT_MAX_PAGES = 1000


@dataclass(frozen=True)
class Pagination:
    style: str = "none"
    cursor_param: str = "cursor"      # query parameter that carries the cursor
    cursor_path: str = "next_cursor"  # where the answer holds the next cursor (dotted)
    page_param: str = "page"
    first_page: int = 1
    size_param: str | None = None     # e.g. per_page; sent with ``size`` when both are set
    size: int | None = None


@dataclass(frozen=True)
class Schedule:
    interval_minutes: int | None = None
    cron: str | None = None

    @property
    def key(self) -> str:
        """A stable text naming this schedule (to notice when it changed)."""
        return json.dumps({"intervalMinutes": self.interval_minutes, "cron": self.cron},
                          sort_keys=True)

    def next_run(self, after: datetime) -> datetime:
        """The first run time strictly after ``after`` (an aware datetime; naive is read as
        UTC), in UTC."""
        # croniter reads the expression in the start time's own zone: convert first, or
        # "0 9 * * *" after a +02:00 time would fire at 07:00 UTC.
        after = after.astimezone(UTC) if after.tzinfo else after.replace(tzinfo=UTC)
        if self.interval_minutes is not None:
            return after + timedelta(minutes=self.interval_minutes)
        return _cron(self.cron, after).get_next(datetime)


# One token of a cron field written as a range from a value to itself, with or without a step.
_EQUAL_RANGE = re.compile(r"(?P<low>[0-9]+|[A-Za-z]+)-(?P<high>[0-9]+|[A-Za-z]+)(?:/[0-9]+)?")


def _same(low: str, high: str) -> bool:
    return int(low) == int(high) if low.isdigit() and high.isdigit() else low.lower() == high.lower()


def _standard(expression: str) -> str:
    """The expression with every range of one value ("9-9", "5-5/10", "mon-mon") written as
    that value. In cron such a range is that one value, but croniter reads it as the whole
    field: "0 9-9 * * *" would run hourly and "5-5,7 * * * *" every minute."""
    def token(text: str) -> str:
        equal = _EQUAL_RANGE.fullmatch(text)
        return equal["low"] if equal and _same(equal["low"], equal["high"]) else text
    return " ".join(",".join(token(part) for part in field.split(","))
                    for field in expression.split())


def _cron(expression: str, start: datetime) -> croniter:
    return croniter(_standard(expression), start)


@dataclass(frozen=True)
class SyncSettings:
    model: str
    path: str
    items_path: str | None = None
    id_field: str = "id"
    params: Mapping[str, str] = field(default_factory=dict)
    pagination: Pagination = Pagination()
    schedule: Schedule | None = None
    max_pages: int = DEFAULT_MAX_PAGES


class SyncSettingsInvalid(ValueError):
    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(problems.items())))
        self.problems = problems


def problems(raw: Any) -> dict[str, list[str]]:
    """What is wrong with ``data.sync`` beyond its JSON shape; empty when fine or absent."""
    if not isinstance(raw, Mapping):
        return {}
    found: dict[str, list[str]] = {}
    model = raw.get("model", "resources")
    if not isinstance(model, str) or not MODEL_PATTERN.match(model):
        found["data.sync.model"] = ["letters, digits, '_', '.', '-'; at most 64, starting "
                                    "with a letter or digit"]
    schedule = raw.get("schedule")
    if isinstance(schedule, Mapping) and isinstance(schedule.get("cron"), str):
        expression = schedule["cron"]
        if len(expression.split()) != 5 or not croniter.is_valid(expression):
            found["data.sync.schedule.cron"] = [
                "not a cron expression of five fields (minute hour day month weekday)"]
        elif not _fires(expression):
            found["data.sync.schedule.cron"] = ["the cron expression never runs (e.g. 31 February)"]
    return found


def _fires(expression: str) -> bool:
    # "0 0 31 2 *" is valid syntax but has no next time: next_run would raise when the
    # integration is saved and on every scheduler tick. 2000 has a 29 February.
    try:
        _cron(expression, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterError:
        return False
    return True


def parse(raw: Any) -> SyncSettings | None:
    """Typed settings from ``data.sync``; None when the integration has none."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("path"), str):
        raise SyncSettingsInvalid({"data.sync.path": ["the path to list, e.g. /contacts"]})
    if found := problems(raw):
        raise SyncSettingsInvalid(found)
    pagination = raw.get("pagination") or "none"
    if isinstance(pagination, str):
        pagination = {"style": pagination}
    if pagination.get("style") not in STYLES:
        raise SyncSettingsInvalid({"data.sync.pagination.style": [f"one of {', '.join(STYLES)}"]})
    schedule = raw.get("schedule")
    return SyncSettings(
        model=raw.get("model", "resources"),
        path=raw["path"],
        items_path=raw.get("itemsPath") or None,
        id_field=raw.get("idField") or "id",
        params={str(k): _query_value(v) for k, v in (raw.get("params") or {}).items()},
        pagination=Pagination(
            style=pagination["style"],
            cursor_param=pagination.get("cursorParam", "cursor"),
            cursor_path=pagination.get("cursorPath", "next_cursor"),
            page_param=pagination.get("pageParam", "page"),
            first_page=int(pagination.get("firstPage", 1)),
            size_param=pagination.get("sizeParam"),
            size=pagination.get("size")),
        schedule=_schedule(schedule) if schedule else None,
        max_pages=int(raw.get("maxPages", DEFAULT_MAX_PAGES)),
    )


def _query_value(value: Any) -> str:
    """A JSON value as a query parameter: booleans as JSON writes them (``true``)."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _schedule(raw: Mapping[str, Any]) -> Schedule:
    if raw.get("intervalMinutes") is not None:
        return Schedule(interval_minutes=int(raw["intervalMinutes"]))
    if raw.get("cron"):
        return Schedule(cron=str(raw["cron"]).strip())
    raise SyncSettingsInvalid({"data.sync.schedule": ["give intervalMinutes or cron"]})
