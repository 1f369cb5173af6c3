"""``/api/integrations/{id}/directories/preview``: the folders inside a folder of a
storage integration (Google Drive, OneDrive, SharePoint, Dropbox, Box), read with the
caller's connection."""

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from integration_hub.api.extensions import Blueprint
from integration_hub.api.proxy.resources import upstream_pool
from integration_hub.config import current_settings
from integration_hub.db.session import db_session
from integration_hub.edge.security import current_tenant, current_user
from integration_hub.integrations import store as integrations
from integration_hub.proxy import directories

blp = Blueprint("directories", __name__, url_prefix="/api",
                description="Folder previews of storage integrations")


class PreviewSchema(ma.Schema):
    folder_id = ma.fields.String(data_key="folderId", allow_none=True,
                                 validate=ma.validate.Length(min=1, max=512), metadata={
                                     "description": "The folder to look into; the root when omitted"})
    path = ma.fields.String(load_default="/", validate=ma.validate.Length(max=4096), metadata={
        "description": "The folder's own path, to build its subfolders' paths (default /)"})


class DirectorySchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    path = ma.fields.String()
    mime_type = ma.fields.String(data_key="mimeType")


class DirectoriesSchema(ma.Schema):
    directories = ma.fields.List(ma.fields.Nested(DirectorySchema))
    truncated = ma.fields.Boolean(metadata={
        "description": "True when the folder has more than one preview reads (20 pages, "
                       "10,000 folders); the folders listed are those read"})


@blp.route("/integrations/<integration_id>/directories/preview")
class Preview(MethodView):
    @blp.arguments(PreviewSchema)
    @blp.response(200, DirectoriesSchema, content_type="application/json")
    @blp.problems(400, 401, 403, 404, 409, 413, 415, 429, 502, 504)
    def post(self, args, integration_id):
        """The subfolders of a folder (root by default), through the proxy"""
        session, user = db_session(), current_user()
        found = integrations.find(session, user, integration_id)
        listed = directories.preview(
            session, user, current_tenant(), found, args.get("folder_id"), args["path"],
            current_settings(), upstream_pool(),
            current_app.extensions["integration_hub.db"])
        return {"directories": [{**folder, "mime_type": folder["mimeType"]}
                                for folder in listed.directories],
                "truncated": listed.truncated}
