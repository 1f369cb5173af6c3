"""``/api/integrations/{id}/sync``: start a sync, watch it, read past runs."""

from flask import current_app
from flask.views import MethodView

from integration_hub.api.auditing import audit_success, audited
from integration_hub.api.common import PageArgsSchema, hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.sync.schemas import SyncRunPageSchema, SyncRunSchema, SyncStatusSchema
from integration_hub.db.session import db_session, transaction
from integration_hub.edge.security import current_user
from integration_hub.integrations import store as integrations
from integration_hub.queue import job_queue
from integration_hub.sync import runs as sync
from integration_hub.sync import schedules as sync_schedules

blp = Blueprint("sync", __name__, url_prefix="/api",
                description="Syncs of upstream listings into records, on demand or on a schedule")


@blp.route("/integrations/<integration_id>/sync")
class Sync(MethodView):
    @blp.response(200, SyncStatusSchema)
    @blp.problems(401, 404)
    def get(self, integration_id):
        """The sync's settings, the running and the last run, and the next scheduled run"""
        session = db_session()
        return sync.status(session, integrations.find(session, current_user(), integration_id))

    @blp.response(202, SyncRunSchema)
    @blp.problems(401, 403, 404, 409, 503)
    def post(self, integration_id):
        """Start a sync now (write access); 409 while one is queued or running"""
        settings = current_app.config["HUB_SETTINGS"]
        with transaction() as session:
            found = integrations.find(session, current_user(), integration_id)
            run = sync.trigger(session, current_user(), found, settings.sync_lease_seconds)
        try:
            job_queue(current_app).enqueue_sync(run.id)
        except Exception as failure:  # the queue's storage is down: do not leave a claim behind
            sync.abandon(db_session(), run.id, "queue_unavailable", "the task queue is not reachable")
            raise sync.QueueUnavailable() from failure
        return run, 202, {"Location": href("sync.Run", integration_id=run.integration_id,
                                           run_id=run.id)}


@blp.route("/integrations/<integration_id>/sync/confirm")
class Confirm(MethodView):
    @blp.response(200, SyncStatusSchema)
    @blp.problems(401, 403, 404, 409)
    @audited("sync.confirm", "integration", "integration_id")
    def post(self, integration_id):
        """Take the sync over as it is (write access): every run acts as you from now on,
        and a paused schedule resumes"""
        with transaction() as session:
            found = integrations.find(session, current_user(), integration_id)
            sync_schedules.confirm(session, current_user(), found)
            audit_success(session, found.integration.id)
        return sync.status(db_session(), found)


@blp.route("/integrations/<integration_id>/sync/runs")
class Runs(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, SyncRunPageSchema)
    @blp.problems(401, 404)
    def get(self, args, integration_id):
        """The integration's sync runs, newest first"""
        session = db_session()
        found = integrations.find(session, current_user(), integration_id)
        runs, total = sync.list_runs(session, found, args["start"], args["limit"])
        return hal_page("sync.Runs", "inf:sync-run", runs, args["start"], args["limit"], total,
                        integration_id=found.integration.id)


@blp.route("/integrations/<integration_id>/sync/runs/<run_id>")
class Run(MethodView):
    @blp.response(200, SyncRunSchema)
    @blp.problems(401, 404)
    def get(self, integration_id, run_id):
        """One sync run: its status, counts and error"""
        session = db_session()
        found = integrations.find(session, current_user(), integration_id)
        return sync.get_run(session, found, run_id)
