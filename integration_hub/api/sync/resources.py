"""``/api/integrations/{id}/sync``: start a sync, watch it, read past runs."""

from flask.views import MethodView

from integration_hub.api.common import PageArgsSchema, hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.sync.schemas import SyncRunPageSchema, SyncRunSchema, SyncStatusSchema
from integration_hub.db.session import db_session
from integration_hub.edge.security import current_actor, current_user
from integration_hub.sync import control as sync

blp = Blueprint("sync", __name__, url_prefix="/api",
                description="Syncs of upstream listings into records, on demand or on a schedule")


@blp.route("/integrations/<integration_id>/sync")
class Sync(MethodView):
    @blp.response(200, SyncStatusSchema)
    @blp.problems(401, 404)
    def get(self, integration_id):
        """The sync's settings, the running and the last run, and the next scheduled run"""
        return sync.status(db_session(), current_user(), integration_id)

    @blp.response(202, SyncRunSchema)
    @blp.problems(401, 403, 404, 409, 503)
    def post(self, integration_id):
        """Start a sync now (write access); 409 while one is queued or running"""
        run = sync.start_run(current_actor(), integration_id)
        return run, 202, {"Location": href("sync.Run", integration_id=run.integration_id,
                                           run_id=run.id)}


@blp.route("/integrations/<integration_id>/sync/confirm")
class Confirm(MethodView):
    @blp.response(200, SyncStatusSchema)
    @blp.problems(401, 403, 404, 409)
    def post(self, integration_id):
        """Take the sync over as it is (write access): every run acts as you from now on,
        and a paused schedule resumes"""
        return sync.confirm(current_actor(), integration_id)


@blp.route("/integrations/<integration_id>/sync/runs")
class Runs(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, SyncRunPageSchema)
    @blp.problems(401, 404)
    def get(self, args, integration_id):
        """The integration's sync runs, newest first"""
        integration, runs, total = sync.runs_page(db_session(), current_user(), integration_id,
                                                  args["start"], args["limit"])
        return hal_page("sync.Runs", "inf:sync-run", runs, args["start"], args["limit"], total,
                        integration_id=integration.id)


@blp.route("/integrations/<integration_id>/sync/runs/<run_id>")
class Run(MethodView):
    @blp.response(200, SyncRunSchema)
    @blp.problems(401, 404)
    def get(self, integration_id, run_id):
        """One sync run: its status, counts and error"""
        return sync.get_run(db_session(), current_user(), integration_id, run_id)
