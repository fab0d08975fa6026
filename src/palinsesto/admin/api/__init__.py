"""The admin REST API under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from palinsesto.admin.api.errors import install_error_handlers
from palinsesto.admin.api.routes import auth, categories, tenants

API_PREFIX = "/api/v1"


def build_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    for module in (auth, tenants, categories):
        router.include_router(module.router)
    return router


__all__ = ["API_PREFIX", "build_router", "install_error_handlers"]
