"""Integers past a column's range, foreign digits and NUL characters are a 4xx naming the
field, on SQLite and on PostgreSQL (they used to reach the driver and end in a 500)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.admin_api import TenantWorld, created, make_tenant, root_client
from support.server import RunningServer

INT4_MAX = 2**31 - 1
PAST_INT4 = 2**31
PAST_INT8 = 2**63
# File sizes in bytes pass 2 GiB and are never stored in a column: bounded to what a
# JavaScript number holds exactly (2**53), below int8.
# Viewing sessions' ids are not rows either: on nodes they are clock-based, past int4.
BYTE_COUNTS = {
    "POST /api/v1/uploads body<UploadIn>.total_bytes",
    "DELETE /api/v1/live/sessions/{session_id} path:session_id",
}


@pytest.fixture(scope="module")
def world(shared_server: RunningServer) -> TenantWorld:
    return make_tenant(shared_server, "bounds")


def _integer_schemas(doc: dict[str, Any], schema: Any, where: str, seen: tuple[str, ...] = ()):
    """(where, schema) of every integer a request can carry, $refs followed."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            target = doc["components"]["schemas"][name]
            yield from _integer_schemas(doc, target, f"{where}<{name}>", (*seen, name))
        return
    if schema.get("type") == "integer":
        yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            yield from _integer_schemas(doc, option, where, seen)
    for name, prop in schema.get("properties", {}).items():
        yield from _integer_schemas(doc, prop, f"{where}.{name}", seen)
    if "items" in schema:
        yield from _integer_schemas(doc, schema["items"], f"{where}[]", seen)


def test_every_integer_a_request_carries_is_bounded_to_int4(shared_server: RunningServer) -> None:
    """Walks the served OpenAPI document, so a new route or field cannot escape."""
    doc = httpx.get(f"{shared_server.base_url}/api/v1/openapi.json", timeout=30).json()
    unbounded = []
    checked = 0
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            sources = [(f"{p['in']}:{p['name']}", p["schema"]) for p in op.get("parameters", [])]
            for media in op.get("requestBody", {}).get("content", {}).values():
                sources.append(("body", media["schema"]))
            for label, schema in sources:
                for where, integer in _integer_schemas(doc, schema, label):
                    checked += 1
                    low, high = integer.get("minimum"), integer.get("maximum")
                    named = f"{method.upper()} {path} {where}"
                    top = 2**53 if named in BYTE_COUNTS else INT4_MAX
                    if low is None or high is None or low < -INT4_MAX - 1 or high > top:
                        unbounded.append(f"{method.upper()} {path} {where}: [{low}, {high}]")
    assert checked > 100
    assert not unbounded, "\n".join(unbounded)


# The routes of the security review, with each out-of-range integer.
ID_ROUTES = [
    ("get", "/api/v1/tenants/{n}", None),
    ("patch", "/api/v1/tenants/{n}", {"name": "x"}),
    ("delete", "/api/v1/tenants/{n}", None),
    ("delete", "/api/v1/auth/api-keys/{n}", None),
    ("get", "/api/v1/categories/{n}", None),
    ("get", "/api/v1/epg/sources/{n}", None),
    ("post", "/api/v1/epg/sources/{n}/import", None),
    ("get", "/api/v1/epg/runs/{n}", None),
    ("get", "/api/v1/epg/runs?source_id={n}", None),
    ("get", "/api/v1/epg/runs?tenant_id={n}", None),
    ("post", "/api/v1/epg/mappings/{n}/accept", None),
    ("post", "/api/v1/epg/mappings/{n}/reject", None),
    ("get", "/api/v1/epg/mappings?channel_id={n}", None),
    ("get", "/api/v1/epg/guide-channels?source_id={n}", None),
    ("put", "/api/v1/epg/channels/{n}/mapping", {"guide_channel_id": 1}),
    ("put", "/api/v1/epg/channels/1/mapping", {"guide_channel_id": "{n}"}),
    ("get", "/api/v1/epg/channels/{n}/shows", None),
    ("delete", "/api/v1/epg/channels/1/shows/{n}", None),
    ("get", "/api/v1/live/channels/{n}", None),
    ("get", "/api/v1/channels/{n}/share-link", None),
    ("post", "/api/v1/categories", {"kind": "live", "name": "x", "tenant_id": "{n}"}),
    ("post", "/api/v1/epg/sources", {"name": "x", "tenant_id": "{n}"}),
]


def _fill(body: dict[str, Any] | None, n: int) -> dict[str, Any] | None:
    return None if body is None else {k: n if v == "{n}" else v for k, v in body.items()}


@pytest.mark.parametrize("n", [PAST_INT4, PAST_INT8, 10**20])
@pytest.mark.parametrize(("method", "url", "body"), ID_ROUTES)
def test_out_of_range_ids_are_422(
    shared_server: RunningServer, method: str, url: str, body: dict | None, n: int
) -> None:
    with root_client(shared_server) as c:
        r = c.request(method, url.format(n=n), json=_fill(body, n))
    assert r.status_code == 422, r.text
    fields = r.json()["error"]["fields"]
    named = url.split("{n}")[0].rsplit("/", 1)[-1].split("?")[-1].rstrip("=")
    assert any(f.endswith(("_id", "id")) for f in fields) or named in fields, fields


def test_session_ids_past_int4_are_looked_up_and_past_2_53_refused(
    shared_server: RunningServer,
) -> None:
    with root_client(shared_server) as c:
        assert c.delete(f"/api/v1/live/sessions/{PAST_INT4}").status_code == 404
        for n in (2**53 + 1, PAST_INT8, 10**20):
            r = c.delete(f"/api/v1/live/sessions/{n}")
            assert r.status_code == 422, r.text
            assert "session_id" in r.json()["error"]["fields"]


@pytest.mark.parametrize(
    "ref",
    [
        "\u0661\u0662-0123456789abcdef0123",  # Arabic-Indic digits: isdigit() says yes
        "\uff11-0123456789abcdef0123",  # a full-width 1
        "1-\u00e9\u00e9\u00e9",  # right id, non-ASCII signature
        f"{PAST_INT8}-0123456789abcdef0123",
        f"{PAST_INT4}-0123456789abcdef0123",
    ],
)
def test_watch_refs_with_foreign_digits_or_huge_ids_are_404(
    shared_server: RunningServer, ref: str
) -> None:
    r = httpx.get(f"{shared_server.base_url}/api/v1/watch/{ref}", timeout=30)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"


def _nul_fields(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    return r.json()["error"]["fields"]


def test_nul_in_body_fields_is_422_naming_the_field_and_stores_nothing(world: TenantWorld) -> None:
    with world.client() as c:
        fields = _nul_fields(c.post("/api/v1/categories", json={"kind": "live", "name": "a\0b"}))
        assert fields == {"name": "Must not contain NUL characters."}
        r = c.post(
            "/api/v1/channels",
            json={"name": "ok", "sources": [{"kind": "hls", "url": "https://x.test/\0.m3u8"}]},
        )
        assert set(_nul_fields(r)) == {"sources.0.url"}
        r = c.post("/api/v1/lines", json={"username": "nul-line", "password": "pw", "notes": "\0"})
        assert set(_nul_fields(r)) == {"notes"}
        assert c.get("/api/v1/categories").json()["total"] == 0
        assert c.get("/api/v1/channels").json()["total"] == 0
        assert c.get("/api/v1/lines").json()["total"] == 0
        cat = created(c.post("/api/v1/categories", json={"kind": "live", "name": "Kept"}))
        r = c.patch(f"/api/v1/categories/{cat['id']}", json={"name": "\0"})
        assert set(_nul_fields(r)) == {"name"}
        assert c.get(f"/api/v1/categories/{cat['id']}").json()["name"] == "Kept"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/lines?q=a%00b", "q"),
        ("/api/v1/bouquets?q=%00", "q"),
        ("/api/v1/epg/guide-channels?q=x%00", "q"),
        ("/api/v1/tenants?q=%00", "q"),
        ("/api/v1/watch/1-%00", "ref"),
    ],
)
def test_nul_in_query_and_path_is_422_naming_it(world: TenantWorld, url: str, field: str) -> None:
    with world.client() as c:
        assert set(_nul_fields(c.get(url))) == {field}


def test_nul_in_a_form_field_is_422(shared_server: RunningServer) -> None:
    with shared_server.client() as c:
        r = c.post("/api/v1/auth/token", data={"username": "ro\0ot", "password": "x"})
    assert set(_nul_fields(r)) == {"username"}
