"""Poster images found next to library files, served to the apps by the panel.

A poster's URL names the tenant and the image's path inside the tenant's media folder,
signed with the secret key: ``/posters/<tenant id>/<signature>/<path>``. The apps load it
without credentials (``stream_icon`` / ``cover`` are plain image URLs, reference §4.4), so
the signature is what stops anyone from walking the media folder: only paths a scan put
into the catalogue have one. The file is resolved again on every request (symlinks
included) and must still be an image inside the tenant's folder.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from palinsesto.context import AppContext
from palinsesto.node.library_walk import IMAGE_TYPES
from palinsesto.node.vod_files import tenant_root

PREFIX = "/posters"


class PosterLinks:
    def __init__(self, secret: str, public_url: Callable[[], str], media_root: Path) -> None:
        self._key = hashlib.sha256(b"palinsesto-poster\x00" + secret.encode()).digest()
        self._public_url = public_url  # read when a scan links a poster: the current one
        self.media_root = media_root

    @classmethod
    def for_context(cls, ctx: AppContext) -> PosterLinks:
        """The links of this server, registered as ``ctx.services["posters"]``."""
        settings = ctx.settings
        links = cls(
            settings.secret_key or "unset",
            lambda: ctx.settings.effective_public_url,
            settings.effective_media_root,
        )
        ctx.services["posters"] = links
        return links

    def signature(self, tenant_id: int, rel_path: str) -> str:
        message = f"{tenant_id}:{rel_path}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:24]

    def url(self, tenant_id: int, image: Path) -> str:
        """The public URL of ``image`` (a file inside the tenant's media folder)."""
        root = os.path.realpath(tenant_root(self.media_root, tenant_id))
        rel = os.path.relpath(os.path.realpath(image), root).replace(os.sep, "/")
        sig = self.signature(tenant_id, rel)
        return f"{self._public_url().rstrip('/')}{PREFIX}/{tenant_id}/{sig}/{quote(rel)}"

    def resolve(self, tenant_id: int, sig: str, rel_path: str) -> Path | None:
        """The image a signed URL names, or None (bad signature, gone, not an image)."""
        if not hmac.compare_digest(self.signature(tenant_id, rel_path), sig):
            return None
        root = os.path.realpath(tenant_root(self.media_root, tenant_id))
        path = os.path.realpath(os.path.join(root, rel_path))
        if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
            return None
        if path.rpartition(".")[2].lower() not in IMAGE_TYPES:
            return None
        return Path(path)


def install_poster_route(app: FastAPI, links: PosterLinks) -> None:
    async def poster(request: Request) -> Response:
        tenant, sig, rel = (request.path_params[k] for k in ("tenant_id", "sig", "path"))
        found = links.resolve(tenant, sig, rel) if tenant < 1 << 31 else None
        if found is None:
            return PlainTextResponse("No such poster.\n", status_code=404)
        media_type = IMAGE_TYPES[found.suffix[1:].lower()]
        headers = {"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"}
        return FileResponse(found, media_type=media_type, headers=headers)

    app.router.routes.append(
        Route(f"{PREFIX}/{{tenant_id:int}}/{{sig}}/{{path:path}}", poster, methods=["GET", "HEAD"])
    )
