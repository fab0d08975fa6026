"""An unknown field in a JSON body is refused with a 422 naming it, and changes nothing.

Movies take one ``category_id``, channels a list of ``category_ids``: a caller who mixes
them up used to get a 201 with no category at all and no hint why.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.admin_api import TenantWorld, created, make_tenant
from support.server import RunningServer

UNKNOWN = "Unknown field: this request has no field of that name."


@pytest.fixture(scope="module")
def world(shared_server: RunningServer) -> TenantWorld:
    return make_tenant(shared_server, "extras")


def _refused(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["fields"]


def _names(c: httpx.Client, path: str) -> list[str]:
    return sorted(row["name"] for row in c.get(path, params={"per_page": 200}).json()["items"])


def test_a_movie_sent_with_a_channels_category_field_is_refused(world: TenantWorld) -> None:
    with world.client() as c:
        films = created(c.post("/api/v1/categories", json={"kind": "movie", "name": "Films"}))
        before = _names(c, "/api/v1/movies")
        r = c.post("/api/v1/movies", json={"name": "Nope", "category_ids": [films["id"]]})
        assert _refused(r) == {"category_ids": UNKNOWN}
        assert _names(c, "/api/v1/movies") == before

        movie = created(c.post("/api/v1/movies", json={"name": "Kept", "category_id": films["id"]}))
        r = c.patch(f"/api/v1/movies/{movie['id']}", json={"name": "Renamed", "category_ids": []})
        assert _refused(r) == {"category_ids": UNKNOWN}
        after = c.get(f"/api/v1/movies/{movie['id']}").json()
        assert (after["name"], after["category_id"]) == ("Kept", films["id"])


def test_a_channel_sent_with_a_movies_category_field_is_refused(world: TenantWorld) -> None:
    with world.client() as c:
        news = created(c.post("/api/v1/categories", json={"kind": "live", "name": "News"}))
        before = _names(c, "/api/v1/channels")
        r = c.post("/api/v1/channels", json={"name": "Nope", "category_id": news["id"]})
        assert _refused(r) == {"category_id": UNKNOWN}
        assert _names(c, "/api/v1/channels") == before

        channel = created(c.post("/api/v1/channels", json={"name": "Kept"}))
        r = c.patch(
            f"/api/v1/channels/{channel['id']}", json={"name": "Renamed", "category_id": news["id"]}
        )
        assert _refused(r) == {"category_id": UNKNOWN}
        after = c.get(f"/api/v1/channels/{channel['id']}").json()
        assert (after["name"], after["category_ids"]) == ("Kept", [])


def test_an_unknown_field_inside_a_list_is_named_by_its_place(world: TenantWorld) -> None:
    with world.client() as c:
        before = _names(c, "/api/v1/channels")
        sources = [{"kind": "test_pattern", "url": ""}, {"kind": "hls", "urls": ["x"], "url": ""}]
        r = c.post("/api/v1/channels", json={"name": "Nope", "sources": sources})
        assert _refused(r) == {"sources.1.urls": UNKNOWN}
        assert _names(c, "/api/v1/channels") == before


def _schemas_reached(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.split("/")[-1] not in seen:
            name = ref.split("/")[-1]
            seen.add(name)
            _schemas_reached(components[name], components, seen)
        for value in schema.values():
            _schemas_reached(value, components, seen)
    elif isinstance(schema, list):
        for value in schema:
            _schemas_reached(value, components, seen)


def test_every_json_body_the_api_documents_refuses_unknown_fields(
    shared_server: RunningServer,
) -> None:
    """A new input model that forgets the shared base would silently drop typos again."""
    with shared_server.client() as c:
        document = c.get("/api/v1/openapi.json").json()
    components = document["components"]["schemas"]
    reached: set[str] = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                _schemas_reached(body, components, reached)
    objects = {n for n in reached if components[n].get("type") == "object"}
    assert len(objects) > 50  # the walk found the bodies (channels, movies, lines, ...)
    lenient = sorted(n for n in objects if components[n].get("additionalProperties") is not False)
    assert lenient == []
