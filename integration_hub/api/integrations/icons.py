"""``/api/integrations/{id}/icon``: an uploaded image, else a catalogue icon; never a
redirect (an ``imageUrl`` elsewhere is a link in the integration's representation)."""

from flask import current_app, request
from flask.views import MethodView

from integration_hub.api.extensions import Blueprint
from integration_hub.api.integrations.catalogue.resources import SVG_HEADERS
from integration_hub.api.integrations.schemas import IntegrationSchema
from integration_hub.db.session import db_session
from integration_hub.edge.security import current_actor, current_user
from integration_hub.integrations import icons

blp = Blueprint("icons", __name__, url_prefix="/api", description="Integration icons")

# The view reads the body itself (raw image or multipart "file"), so it is documented by hand.
_IMAGE = {"type": "string", "format": "binary"}
ICON_UPLOAD = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": _IMAGE}}},
    **{media_type: {"schema": _IMAGE} for media_type in (
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")}}}


def _uploaded_bytes() -> bytes:
    """The ``file`` part of a multipart upload, or the raw body; never more than the limit."""
    if request.content_length and request.content_length > icons.MAX_ICON_BYTES + 64 * 1024:
        raise icons.IconTooLarge()
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise icons.UnsupportedImage("send the image in the multipart field 'file'")
        return upload.stream.read(icons.MAX_ICON_BYTES + 1)
    return request.stream.read(icons.MAX_ICON_BYTES + 1)


def _image(content: bytes, content_type: str, etag: str):
    """An image answer: its own type, nosniff, scripts forbidden in SVG, revalidated."""
    response = current_app.response_class(content, mimetype=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if content_type == icons.SVG:
        response.headers.update(SVG_HEADERS)
    response.set_etag(etag)
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response.make_conditional(request)


@blp.route("/integrations/<integration_id>/icon")
class Icon(MethodView):
    @blp.response(200, content_type="image/*", description="The upload, else a catalogue icon")
    @blp.alt_response(304, description="Not modified")
    @blp.problems(401, 404)
    def get(self, integration_id):
        """The integration's icon: the upload, else the catalogue icon imageUrl names or its
        type or name matches"""
        image = icons.served_icon(db_session(), current_user(), integration_id)
        return _image(image.content, image.content_type, image.etag)

    @blp.doc(requestBody=ICON_UPLOAD)
    @blp.response(200, IntegrationSchema)
    @blp.problems(401, 403, 404, 413, 415, 422)
    def put(self, integration_id):
        """Upload an icon: PNG, JPEG, GIF, WebP or SVG (<= 512 KiB), as multipart 'file' or raw body"""
        return icons.upload(current_actor(), integration_id, _uploaded_bytes)

    @blp.response(204)
    @blp.problems(401, 403, 404)
    def delete(self, integration_id):
        """Remove the uploaded icon"""
        icons.remove(current_actor(), integration_id)
