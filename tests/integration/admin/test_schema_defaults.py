"""Defaults belong in the API's schema, where every generated client (the web panel's forms
too) sees them; an empty ``allowed_outputs`` is refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from pydantic import BaseModel

import palinsesto.panel.admin.api.routes as route_modules
from support.admin_api import make_tenant
from support.server import RunningServer


def _api_models() -> set[type[BaseModel]]:
    """Every pydantic model the admin API's route modules define or use."""
    found: set[type[BaseModel]] = set()
    for info in pkgutil.iter_modules(route_modules.__path__):
        module = importlib.import_module(f"{route_modules.__name__}.{info.name}")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseModel) and value.__module__.startswith("palinsesto."):
                found.add(value)
    return found


def test_no_schema_hides_a_default_in_a_factory() -> None:
    seen = _api_models()
    hidden = [
        f"{model.__name__}.{name}"
        for model in seen
        for name, field in model.model_fields.items()
        if field.default_factory is not None
    ]
    assert len(seen) > 40 and hidden == [], hidden


def test_line_defaults_are_in_the_openapi_document_and_empty_outputs_are_refused(
    shared_server: RunningServer,
) -> None:
    with shared_server.client() as c:
        schemas = c.get("/api/v1/openapi.json").json()["components"]["schemas"]
    for name in ("LineIn", "Purchase"):
        outputs = schemas[name]["properties"]["allowed_outputs"]
        assert outputs["default"] == ["m3u8", "ts"] and outputs["minItems"] == 1, outputs
        assert schemas[name]["properties"]["allowed_ips"]["default"] == []
    assert schemas["LineOutput"]["enum"] == ["m3u8", "ts", "rtmp"]

    world = make_tenant(shared_server, "defaults")
    with world.client() as c:
        r = c.post("/api/v1/lines", json={"username": "empty-out", "password": "pw-123456",
                                          "allowed_outputs": []})  # fmt: skip
        assert r.status_code == 422 and "allowed_outputs" in r.json()["error"]["fields"], r.text
        assert c.get("/api/v1/lines", params={"q": "empty-out"}).json()["total"] == 0
        r = c.post("/api/v1/lines", json={"username": "default-out", "password": "pw-123456"})
        assert r.status_code == 201 and r.json()["allowed_outputs"] == ["m3u8", "ts"], r.text
        line_id = r.json()["id"]
        r = c.patch(f"/api/v1/lines/{line_id}", json={"allowed_outputs": []})
        assert r.status_code == 422 and "allowed_outputs" in r.json()["error"]["fields"], r.text
        assert c.get(f"/api/v1/lines/{line_id}").json()["allowed_outputs"] == ["m3u8", "ts"]
