"""Importing a records file: ``POST /api/integrations/{id}/import`` (docs/decisions.md,
"Records, imports and syncs"; docs/security.md, "Imports").

Two passes, so that a file is all or nothing while the hub's database is never held for
long and the file is never held in memory:

1. the whole file is read as a stream and every row checked and staged
   (``import_staging``), with no transaction open on the hub's database;
2. only then, when the file has no problem (or ``partial`` and some rows are good), the
   staged rows are upserted in batches of at most ``BATCH_ROWS`` rows, each batch in a
   write transaction of its own, so that other writers (sign-ins, the request log, other
   imports) take their turn between two batches. Each batch checks the caller's write
   access again: a share revoked meanwhile stops the import there.

A bad file therefore changes nothing. A good one is visible batch by batch while it is
written; if writing stops half way (the database fails, access is revoked, the process
ends) the batches written stay, and importing the same file again completes it. Each
batch's transaction also tells the webhooks which records it created and updated
(``record.created``, ``record.updated``), so what a receiver hears is what was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO

from integration_hub import errors
from integration_hub.audit.entries import Actor
from integration_hub.config import current_settings
from integration_hub.db.session import db_session, writing
from integration_hub.db.types import utcnow
from integration_hub.integrations import store as integrations
from integration_hub.integrations.acl import Access
from integration_hub.integrations.store import Found
from integration_hub.records import lineage
from integration_hub.records import store as records
from integration_hub.records.files import LineError, UnreadableFile
from integration_hub.records.import_staging import BATCH_BYTES, BATCH_ROWS, StagedRows, stage_records_file
from integration_hub.webhooks.record_events import records_changed


class ImportTooLarge(errors.PayloadTooLarge):
    code, title = "import_too_large", "The file is larger than imports accept"


class ImportInvalid(errors.ValidationFailed):
    code, title = "import_invalid", "The file has errors; nothing was imported"


@dataclass
class ImportResult:
    found: Found
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    format: str = ""
    lineages: int = 0  # distinct pairs of the lineages file, stored or already there


def import_file(actor: Actor, integration_id: str, model: str, stream: BinaryIO,
                partial: bool, lineages: BinaryIO | None = None) -> ImportResult:
    """Upsert every row of a CSV or JSON Lines file, and store the pairs of a lineages file
    (records/lineage.py); with errors in either, nothing (unless partial)."""
    session, user = db_session(), actor.user
    max_bytes = current_settings().import_max_bytes
    found = integrations.find(session, user, integration_id, Access.WRITE)
    records.check_model(model)
    if _size(stream) + (_size(lineages) if lineages is not None else 0) > max_bytes:
        raise ImportTooLarge(f"imports accept at most {max_bytes} bytes")
    session.commit()  # nothing stays open on the hub's database while the file is read
    with StagedRows() as staged:
        try:
            file_format, problems = stage_records_file(stream, staged)
        except UnreadableFile as unreadable:
            raise _invalid([LineError(unreadable.line, unreadable.message)]) from None
        pairs, lineage_problems = _lineage_pairs(lineages, model)
        problems = problems + lineage_problems
        if problems and (not partial or not staged.count):
            raise _invalid(problems)
        result = ImportResult(found, format=file_format, errors=_listed(problems))
        now = utcnow()
        for batch in staged.batches(BATCH_ROWS, BATCH_BYTES):
            with writing(session):
                result.found = integrations.find(session, user, integration_id, Access.WRITE)
                integration = result.found.integration
                written = records.upsert(session, integration.id, model,
                                         {row.record_id: row.data for row in batch}, now)
                for change, ids in written.by_change():
                    records_changed(session, integration.tenant_id, integration.id, model,
                                    f"record.{change}", ids, user.username)
            result.created += len(written.created)
            result.updated += len(written.updated)
    if pairs:
        with writing(session):
            result.found = integrations.find(session, user, integration_id, Access.WRITE)
            lineage.store(session, result.found.integration.id, pairs)
        result.lineages = len(pairs)
    return result


def _lineage_pairs(stream: BinaryIO | None, model: str) -> tuple[list, list[LineError]]:
    """The lineages file's pairs and problems, its lines' messages saying which file."""
    if stream is None:
        return [], []
    try:
        pairs, problems = lineage.read_pairs(stream, model)
    except UnreadableFile as unreadable:
        problems, pairs = [LineError(unreadable.line, unreadable.message)], []
    return pairs, [LineError(problem.line, f"lineages_file: {problem.message}")
                   for problem in problems]


def _size(stream: BinaryIO) -> int:
    """The uploaded file's size: Werkzeug hands it over in memory or spooled to disk,
    seekable either way."""
    start = stream.tell()
    size = stream.seek(0, 2) - start
    stream.seek(start)
    return size


def _listed(problems: list[LineError]) -> list[dict[str, Any]]:
    return [{"line": problem.line, "message": problem.message} for problem in problems]


def _invalid(problems: list[LineError]) -> ImportInvalid:
    return ImportInvalid(f"{len(problems)} line(s) have errors; nothing was imported",
                         errors=_listed(problems), created=0, updated=0)
