"""Several channels changed in one call (all or nothing, tenant-scoped, audited per channel),
and a whole category added to a bouquet."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from palinsesto.trust.models import AuditEntry
from support.admin_api import created, make_tenant
from support.server import RunningServer

PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]


def _channel(c: httpx.Client, name: str, **extra: Any) -> dict[str, Any]:
    return created(c.post("/api/v1/channels", json={"name": name, "sources": PATTERN, **extra}))


def test_bulk_edit_is_all_or_nothing_and_audited_per_channel(
    sqlite_server: RunningServer,
) -> None:
    alpha = make_tenant(sqlite_server, "alpha")
    bravo = make_tenant(sqlite_server, "bravo")
    with bravo.client() as b:
        foreign = _channel(b, "Bravo TV")
    with alpha.client() as c:
        news = created(c.post("/api/v1/categories", json={"kind": "live", "name": "News"}))
        basic = created(c.post("/api/v1/bouquets", json={"name": "Basic"}))
        ids = [_channel(c, f"Ch {n}")["id"] for n in range(3)]
        change = {
            "category_ids": [news["id"]],
            "add_to_bouquet_ids": [basic["id"]],
            "enabled": False,
            "transcode_profile": "h264-480p",
        }
        refused = c.patch(
            "/api/v1/channels", json={"ids": [*ids, foreign["id"]], "changes": change}
        )
        assert refused.status_code == 404, refused.text
        assert str(foreign["id"]) in refused.json()["error"]["message"]
        assert all(c.get(f"/api/v1/channels/{i}").json()["enabled"] for i in ids)

        bad = c.patch("/api/v1/channels", json={"ids": ids, "changes": {"category_ids": [999]}})
        assert bad.status_code == 422
        assert c.patch("/api/v1/channels", json={"ids": ids}).status_code == 422

        done = c.patch("/api/v1/channels", json={"ids": ids, "changes": change})
        assert done.status_code == 200, done.text
        assert done.json() == {"updated": 3, "deleted": 0}
        for i in ids:
            ch = c.get(f"/api/v1/channels/{i}").json()
            assert (ch["enabled"], ch["category_ids"]) == (False, [news["id"]])
            assert ch["transcode_profile"] != "copy"
        items = c.get(f"/api/v1/bouquets/{basic['id']}/items").json()["items"]
        assert [i["item_id"] for i in items] == ids

        out = c.patch(
            "/api/v1/channels",
            json={"ids": ids[:1], "changes": {"remove_from_bouquet_ids": [basic["id"]]}},
        )
        assert out.status_code == 200
        items = c.get(f"/api/v1/bouquets/{basic['id']}/items").json()["items"]
        assert [i["item_id"] for i in items] == ids[1:]

        gone = c.patch("/api/v1/channels", json={"ids": ids[1:], "delete": True})
        assert gone.json() == {"updated": 0, "deleted": 2}
        assert c.get(f"/api/v1/bouquets/{basic['id']}/items").json()["items"] == []
    with bravo.client() as b:
        assert b.get(f"/api/v1/channels/{foreign['id']}").json()["enabled"] is True
    with sqlite_server.ctx.db.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "channel", AuditEntry.tenant_id == alpha.id
            )
        ).all()
        updates = [(e.action, e.entity_id) for e in entries if e.action != "create"]
    assert updates.count(("update", str(ids[0]))) == 2
    assert ("delete", str(ids[2])) in updates


def test_a_whole_category_goes_into_a_bouquet(sqlite_server: RunningServer) -> None:
    alpha = make_tenant(sqlite_server, "alpha")
    bravo = make_tenant(sqlite_server, "bravo")
    with bravo.client() as b:
        theirs = created(b.post("/api/v1/categories", json={"kind": "live", "name": "News"}))
    with alpha.client() as c:
        news = created(c.post("/api/v1/categories", json={"kind": "live", "name": "News"}))
        sport = created(c.post("/api/v1/categories", json={"kind": "live", "name": "Sport"}))
        basic = created(c.post("/api/v1/bouquets", json={"name": "Basic"}))
        late = _channel(c, "Late", number=9, category_ids=[news["id"]])
        early = _channel(c, "Early", number=2, category_ids=[news["id"]])
        _channel(c, "Match", category_ids=[sport["id"]])
        url = f"/api/v1/bouquets/{basic['id']}/categories"
        first = c.post(url, json={"category_id": news["id"]})
        assert first.json() == {"bouquet_id": basic["id"], "added": 2, "total": 2}
        again = c.post(url, json={"category_id": news["id"]})
        assert again.json()["added"] == 0
        items = c.get(f"/api/v1/bouquets/{basic['id']}/items").json()["items"]
        assert [i["item_id"] for i in items] == [early["id"], late["id"]]
        foreign = c.post(url, json={"category_id": theirs["id"]})
        assert foreign.status_code == 422
    with bravo.client() as b:
        assert b.post(url, json={"category_id": theirs["id"]}).status_code == 404
