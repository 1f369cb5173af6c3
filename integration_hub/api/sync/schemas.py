"""Schemas of syncs: the status of an integration's sync and its runs."""

import marshmallow as ma

from integration_hub.api.common import HalSchema, href, page_schema
from integration_hub.integrations.acl import Access


class SyncRunSchema(HalSchema):
    id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "queued, running, succeeded or failed"})
    trigger = ma.fields.String(metadata={"description": "manual or schedule"})
    model = ma.fields.String()
    run_as = ma.fields.String(data_key="runAs", metadata={
        "description": "The user whose connection and identity the upstream calls use: who "
                       "had last changed or confirmed data.sync when the run was queued"})
    requested_by = ma.fields.String(data_key="requestedBy", allow_none=True)
    pages = ma.fields.Integer()
    fetched = ma.fields.Integer(metadata={"description": "Items read from the listing"})
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    deleted = ma.fields.Integer(metadata={"description": "Records marked deleted (gone upstream)"})
    error_code = ma.fields.String(data_key="errorCode", allow_none=True)
    error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime(data_key="createdAt")
    started_at = ma.fields.DateTime(data_key="startedAt", allow_none=True)
    finished_at = ma.fields.DateTime(data_key="finishedAt", allow_none=True)

    def hal_links(self, run):
        return {"self": {"href": href("sync.Run", integration_id=run.integration_id, run_id=run.id)},
                "inf:sync": {"href": href("sync.Sync", integration_id=run.integration_id)},
                "inf:records": {"href": href("records.Records", integration_id=run.integration_id,
                                             model=run.model)}}


SyncRunPageSchema = page_schema(SyncRunSchema, "inf:sync-run", "SyncRunPage")


class SyncStatusSchema(HalSchema):
    configured = ma.fields.Boolean(metadata={"description": "data.sync is set and valid"})
    problem = ma.fields.String(allow_none=True, metadata={"description": "Why data.sync is not usable"})
    model = ma.fields.String(allow_none=True)
    schedule = ma.fields.Dict(allow_none=True, metadata={
        "description": "{intervalMinutes} or {cron} (UTC), when scheduled"})
    state = ma.fields.String(metadata={"description": "idle, queued or running"})
    active_run = ma.fields.Nested(SyncRunSchema, data_key="activeRun", allow_none=True)
    last_run = ma.fields.Nested(SyncRunSchema, data_key="lastRun", allow_none=True)
    next_run_at = ma.fields.DateTime(data_key="nextRunAt", allow_none=True)
    run_as = ma.fields.String(data_key="runAs", allow_none=True, metadata={
        "description": "Every run, scheduled or started by hand, acts as this user: who last "
                       "changed data.sync or confirmed it (docs/security.md)"})
    run_as_since = ma.fields.DateTime(data_key="runAsSince", allow_none=True, metadata={
        "description": "When runAs changed data.sync or confirmed it"})
    confirmed = ma.fields.Boolean(metadata={
        "description": "runAs saved or confirmed data.sync exactly as it is; when false, no "
                       "run starts until someone with write access confirms it"})
    paused = ma.fields.Boolean(metadata={
        "description": "The schedule starts no run until someone with write access changes "
                       "or confirms data.sync"})
    pause_reason = ma.fields.String(data_key="pauseReason", allow_none=True, metadata={
        "description": "The error code that paused the schedule (sync_user_missing, "
                       "integration_not_connected ...)"})

    def hal_links(self, status):
        key = status["integration_id"]
        links = {"self": {"href": href("sync.Sync", integration_id=key)},
                 "inf:sync-runs": {"href": href("sync.Runs", integration_id=key)},
                 "inf:records": {"href": href("records.Records", integration_id=key)},
                 "inf:integration": {"href": href("integrations.Integration", integration_id=key)}}
        if status["access"] >= Access.WRITE and status["configured"]:
            links["inf:sync-confirm"] = {"href": href("sync.Confirm", integration_id=key)}
        return links
