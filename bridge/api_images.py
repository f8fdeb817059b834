"""Uploaded pictures over HTTP: upload, list, fetch and delete.

Owns ``/api/images`` (POST multipart or a raw body, GET the list) and
``/api/images/<id>`` (GET the re-encoded PNG, DELETE). Pictures are resized to
the panel the engine reports (else the settings' size) by the shared
``ImageStore``; its errors map onto 413/415/422/507. Knows nothing of paho, the
render loop or the display.
"""

from __future__ import annotations

import structlog
from flask import Blueprint, Response, request

from appliance.content.images import ImageError, UnknownImageError
from bridge.deps import Limits
from bridge.errors import ApiError
from bridge.web import add_routes, deps, json_response

log = structlog.get_logger("bridge.api")

IMAGE_ERROR_STATUS = {"too_large": 413, "unsupported_media_type": 415, "images_full": 507,
                      "storage_full": 507}


def panel_size() -> tuple[int, int]:
    """The panel's (width, height): from the engine's info, else from settings."""
    d = deps()
    info = d.link.value("info")
    try:
        return int(info["display"]["width"]), int(info["display"]["height"])
    except (TypeError, KeyError, ValueError):
        return d.settings.display.width, d.settings.display.height


def _uploaded() -> tuple[bytes, str | None]:
    """The upload's bytes and file name: a form field ``file``, else the raw body."""
    if request.mimetype == "multipart/form-data":
        f = request.files.get("file")
        if f is None:
            raise ApiError(400, "missing_file", "send the picture in a form field named file",
                           {"field": "file"}, field="file")
        return f.read(deps().settings.bridge.upload_max_bytes + 1), f.filename
    return request.get_data(cache=False), request.headers.get("X-Filename")


def upload() -> Response:
    """``POST /api/images``: store a PNG, GIF or JPEG resized to the panel (201)."""
    data, name = _uploaded()
    w, h = panel_size()
    try:
        info = deps().store.save(data, name, w, h)
    except ImageError as exc:
        raise ApiError(IMAGE_ERROR_STATUS.get(exc.code, 422), exc.code, exc.message,
                       exc.details or None) from None
    log.info("image_uploaded", id=info.id, frames=info.frames, source=info.source_format,
             width=info.source_width, height=info.source_height)
    return json_response({**info.as_dict(), "url": f"/api/images/{info.id}"}, 201,
                         {"Location": f"/api/images/{info.id}"})


def list_images() -> Response:
    """``GET /api/images``: every stored image with its URL."""
    return json_response({"images": [{**i.as_dict(), "url": f"/api/images/{i.id}"}
                                     for i in deps().store.list_all()]})


def get_image(image_id: str) -> Response:
    """``GET /api/images/<id>``: the re-encoded PNG, cacheable (ids are content hashes)."""
    try:
        png = deps().store.png(image_id)
    except UnknownImageError:
        raise ApiError(404, "unknown_image", "no image with that id") from None
    return Response(png, mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=86400, immutable"})


def delete_image(image_id: str) -> Response:
    """``DELETE /api/images/<id>``."""
    try:
        deps().store.delete(image_id)
    except UnknownImageError:
        raise ApiError(404, "unknown_image", "no image with that id") from None
    log.info("image_deleted", id=image_id)
    return json_response({"deleted": image_id})


def blueprint(limits: Limits) -> Blueprint:
    """Return the image routes: uploads, reads and deletes (a write) each limited."""
    return add_routes(Blueprint("api_images", __name__), [
        ("POST", "/api/images", upload, limits.uploads),
        ("GET", "/api/images", list_images, limits.reads),
        ("GET", "/api/images/<image_id>", get_image, limits.reads),
        ("DELETE", "/api/images/<image_id>", delete_image, limits.writes),
    ])
