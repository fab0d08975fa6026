"""The ASGI application: one factory, everything it needs passed in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from palinsesto import __version__
from palinsesto.admin.api import API_PREFIX, build_router, install_error_handlers
from palinsesto.context import AppContext


def create_app(ctx: AppContext) -> FastAPI:
    """Build the all-in-one application around an already-migrated database."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.db.dispose()

    app = FastAPI(
        title="Palinsesto",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.include_router(build_router())

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
