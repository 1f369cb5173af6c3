"""Lineage between records: which record feeds which (Secoda's lineage of resources).

Imported with a records file as ``lineages_file``: JSON Lines, one pair per line,
``{"upstream": {"model": "tables", "id": "orders"}, "downstream": {"model": "dashboards",
"id": "revenue"}}``; an end given as a bare id (``"upstream": "orders"``) or without
``model`` is of the import's model. The file is read and checked whole before anything is
written, as the records file is; a pair already stored is not stored twice. Read per
record: the records it comes from (upstream) and those it feeds (downstream), each with
whether it is in the store. See docs/decisions.md, "Records, imports and syncs".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from integration_hub.db.models import Record, RecordLineage
from integration_hub.records.files import LineError, check_id, json_objects, text_lines
from integration_hub.records.import_staging import MAX_ERRORS
from integration_hub.records.names import MODEL_PATTERN

MAX_PAIRS = 50_000  # distinct pairs in one lineages file
MAX_DEPTH = 4  # a line is an object of two ends: nothing deeper is needed
READ_LIMIT = 500  # records listed upstream, and downstream, of one record
_BATCH = 500


@dataclass(frozen=True, order=True)
class End:
    model: str
    id: str


@dataclass(frozen=True, order=True)
class Pair:
    upstream: End
    downstream: End


def read_pairs(stream: BinaryIO, model: str) -> tuple[list[Pair], list[LineError]]:
    """The distinct pairs of a lineages file, in their order, and the problems of its first
    lines (at most ``MAX_ERRORS``); ``files.UnreadableFile`` when it is no UTF-8 text.
    Like the records file, the whole file is read past its listed problems: a partial
    import stores every good pair. More than ``MAX_PAIRS`` pairs is listed too (line 0)
    and ends the reading."""
    pairs: dict[Pair, None] = {}
    problems: list[LineError] = []
    for checked in _checked_lines(text_lines(stream), model):
        if isinstance(checked, LineError):
            if len(problems) < MAX_ERRORS:  # only the list is capped, not the reading
                problems.append(checked)
        elif checked not in pairs:
            if len(pairs) == MAX_PAIRS:  # listed even past MAX_ERRORS: pairs are left out
                problems.append(LineError(0, f"the file holds more than {MAX_PAIRS} pairs"))
                break
            pairs[checked] = None
    return list(pairs), problems


def _checked_lines(lines: Iterator[str], model: str) -> Iterator[Pair | LineError]:
    for line, _, item in json_objects(lines, MAX_DEPTH):
        if isinstance(item, LineError):
            yield item
            continue
        if set(item) != {"upstream", "downstream"}:
            yield LineError(line, 'each line is one object of "upstream" and "downstream"')
            continue
        ends = [_end(line, item[side], model) for side in ("upstream", "downstream")]
        problem = next((end for end in ends if isinstance(end, LineError)), None)
        if problem is not None:
            yield problem
        elif ends[0] == ends[1]:
            yield LineError(line, "a record does not feed itself")
        else:
            yield Pair(*ends)


def _end(line: int, value: Any, model: str) -> End | LineError:
    if isinstance(value, dict):
        if not set(value) <= {"model", "id"}:
            return LineError(line, 'an end is {"model", "id"} or an id')
        model, value = value.get("model", model), value.get("id")
    if not isinstance(model, str) or not MODEL_PATTERN.match(model):
        return LineError(line, "model must be 1-64 letters, digits, '_', '.' or '-'")
    checked = check_id(line, value)
    return checked if isinstance(checked, LineError) else End(model, checked)


def store(session: Session, integration_id: str, pairs: Iterable[Pair]) -> None:
    """Add the pairs not stored yet (in the session's transaction)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [{"integration_id": integration_id, "upstream_model": pair.upstream.model,
             "upstream_id": pair.upstream.id, "downstream_model": pair.downstream.model,
             "downstream_id": pair.downstream.id} for pair in pairs]
    for start in range(0, len(rows), _BATCH):
        session.execute(insert(RecordLineage).on_conflict_do_nothing(), rows[start:start + _BATCH])


@dataclass(frozen=True)
class Linked:
    end: End
    stored: bool  # the record is in the store (deleted by a sync or not)


@dataclass(frozen=True)
class Lineage:
    record: End
    upstream: list[Linked]
    downstream: list[Linked]
    truncated: bool  # more than READ_LIMIT on a side


def of_record(session: Session, integration_id: str, record: End) -> Lineage:
    """The records ``record`` comes from and those it feeds, by model and id."""
    lineage = RecordLineage
    upstream = _linked(session, integration_id, lineage.upstream_model, lineage.upstream_id,
                       lineage.downstream_model == record.model,
                       lineage.downstream_id == record.id)
    downstream = _linked(session, integration_id, lineage.downstream_model,
                         lineage.downstream_id, lineage.upstream_model == record.model,
                         lineage.upstream_id == record.id)
    truncated = len(upstream) > READ_LIMIT or len(downstream) > READ_LIMIT
    return Lineage(record, upstream[:READ_LIMIT], downstream[:READ_LIMIT], truncated)


def _linked(session: Session, integration_id: str, model_column, id_column,
            *where) -> list[Linked]:
    found = session.execute(
        select(model_column, id_column, Record.record_id.is_not(None))
        .select_from(RecordLineage)
        .outerjoin(Record, and_(Record.integration_id == RecordLineage.integration_id,
                                Record.model == model_column, Record.record_id == id_column))
        .where(RecordLineage.integration_id == integration_id, *where)
        .order_by(model_column, id_column).limit(READ_LIMIT + 1))
    return [Linked(End(model, record_id), bool(stored)) for model, record_id, stored in found]
