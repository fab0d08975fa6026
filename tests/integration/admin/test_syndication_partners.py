"""Syndication between panels that only know each other by what they hand out, and what
happens to it when a panel goes away: over HTTP, on SQLite and PostgreSQL.

- A private offer is addressed by the partner's partner code (shown to its own staff
  only); a wrong code is refused and changes nothing.
- Deleting the owner's panel (or the partner's) ends every syndication it is a side of:
  the entry leaves the partner's catalogue and bouquets, both audit logs say so.
- Suspending the owner pauses its syndications: partners' viewers are cut and refused
  (503 CHANNEL_UNAVAILABLE) until it is resumed; nothing is deleted.
- An offer may cap all its partners' viewers together, besides each partner's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from support.admin_api import TenantWorld, created, make_tenant, root_client
from support.server import RunningServer

PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]
CUT_WITHIN = 5.0  # seconds from the owner's suspension to the end of a partner's stream


def _channel(world: TenantWorld, name: str) -> dict[str, Any]:
    with world.client() as c:
        return created(c.post("/api/v1/channels", json={"name": name, "sources": PATTERN}))


def _offer(world: TenantWorld, **body: Any) -> httpx.Response:
    with world.client() as c:
        return c.post("/api/v1/syndication/offers", json=body)


def _carry(world: TenantWorld, offer_id: int, username: str) -> tuple[int, dict[str, Any]]:
    """``world`` requests the (auto-approved) offer, bundles its entry and makes a line:
    the entry's id and the line."""
    with world.client() as c:
        request = created(c.post("/api/v1/syndication/requests", json={"offer_id": offer_id}))
        entry_id = request["entry_channel_id"]
        assert request["status"] == "active" and entry_id, request
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "Carried"}))
        items = [{"item_type": "channel", "item_id": entry_id}]
        assert c.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items}).is_success
        line = created(
            c.post(
                "/api/v1/lines",
                json={"username": username, "password": "secret1",
                      "bouquet_ids": [bouquet["id"]], "max_connections": 3},
            )
        )  # fmt: skip
    return entry_id, line


def _audit(world: TenantWorld, action: str) -> list[dict[str, Any]]:
    with world.client() as c:
        r = c.get("/api/v1/audit", params={"entity": "syndication", "action": action})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _live_ids(server: RunningServer, line: dict[str, Any]) -> set[int]:
    creds = {"username": line["username"], "password": "secret1"}
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        r = c.get("/player_api.php", params={**creds, "action": "get_live_streams"})
    assert r.status_code == 200, r.text
    return {int(s["stream_id"]) for s in r.json()}


def _url(line: dict[str, Any], stream_id: int) -> str:
    return f"/live/{line['username']}/secret1/{stream_id}.ts"


@dataclass
class Viewer:
    ended: threading.Event  # set once the stream is over (the server ended it, or we left)
    leave: threading.Event  # set to close the player


@contextmanager
def _watching(server: RunningServer, line: dict[str, Any], stream_id: int) -> Iterator[Viewer]:
    """A TS viewer reading in a thread until the server ends the stream or it leaves."""
    viewer = Viewer(threading.Event(), threading.Event())
    ended, started = viewer.ended, threading.Event()
    failure: list[str] = []

    def read() -> None:
        try:
            with httpx.Client(base_url=server.base_url, timeout=60) as c:
                with c.stream("GET", _url(line, stream_id), follow_redirects=True) as r:
                    if r.status_code != 200:
                        failure.append(f"{r.status_code} {r.read()!r}")
                        return
                    for chunk in r.iter_bytes():
                        if chunk and not started.is_set():
                            started.set()
                        if viewer.leave.is_set():
                            return
        except httpx.HTTPError as exc:
            failure.append(repr(exc))
        finally:
            started.set()
            ended.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert started.wait(60), "the partner's viewer never got a byte"
    assert not failure, failure
    try:
        yield viewer
    finally:
        viewer.leave.set()
        ended.wait(60)


def _play_status(server: RunningServer, line: dict[str, Any], stream_id: int) -> tuple[int, str]:
    with httpx.Client(base_url=server.base_url, timeout=60) as c:
        with c.stream("GET", _url(line, stream_id), follow_redirects=True) as r:
            if r.status_code != 200:
                return r.status_code, r.read().decode()
            return 200, ""


# ---- partner codes ----


def test_a_private_offer_goes_to_the_panel_whose_code_was_given(server: RunningServer) -> None:
    alpha, bravo, charlie = (make_tenant(server, s) for s in ("alpha", "bravo", "charlie"))
    x = _channel(alpha, "Drum Stage")
    code = bravo.partner_code()
    assert len(code) == 14 and code.count("-") == 2
    with bravo.client("support") as support:  # every staff member of the panel may read it
        assert support.get("/api/v1/syndication/partner-code").json()["partner_code"] == code
    # Typed as people type it: lower case, spaces instead of dashes, O for 0.
    typed = code.lower().replace("-", " ").replace("0", "o")
    offer = _offer(alpha, channel_id=x["id"], partner_code=typed, max_viewers=3)
    assert offer.status_code == 201, offer.text
    assert (offer.json()["partner_tenant_id"], offer.json()["partner_name"]) == (bravo.id, "Bravo")
    with bravo.client() as b:
        assert [o["id"] for o in b.get("/api/v1/syndication/directory").json()] == [
            offer.json()["id"]
        ]
    with charlie.client() as c:
        assert c.get("/api/v1/syndication/directory").json() == []

    # Bravo replaces its code: the old one addresses nothing, the offer made with it stays.
    with bravo.client("support") as support:
        assert support.post("/api/v1/syndication/partner-code/replace").status_code == 403
    with bravo.client() as b:
        replaced = b.post("/api/v1/syndication/partner-code/replace")
        assert replaced.status_code == 200, replaced.text
        new_code = replaced.json()["partner_code"]
        assert new_code != code and b.get("/api/v1/syndication/partner-code").json() == {
            "partner_code": new_code,
            "panel_name": "Bravo",
        }
        assert len(b.get("/api/v1/syndication/directory").json()) == 1
        log = b.get("/api/v1/audit", params={"action": "replace_partner_code"}).json()["items"]
        assert len(log) == 1
    stale = _offer(alpha, channel_id=x["id"], partner_code=code)
    assert stale.status_code == 422 and "partner_code" in stale.json()["error"]["fields"]
    assert _offer(alpha, channel_id=x["id"], partner_code=new_code).status_code == 201
    with alpha.client() as a:
        assert len(a.get("/api/v1/syndication/offers").json()) == 2


def test_a_wrong_partner_code_is_refused_and_says_nothing(server: RunningServer) -> None:
    alpha, bravo = make_tenant(server, "alpha"), make_tenant(server, "bravo")
    x = _channel(alpha, "Drum Stage")
    with root_client(server) as root:  # a suspended panel takes no offers
        assert root.post(f"/api/v1/tenants/{bravo.id}/suspend").status_code == 200
    unknown = "ZZZZ-ZZZZ-ZZZZ" if bravo.partner_code() != "ZZZZ-ZZZZ-ZZZZ" else "YYYY-YYYY-YYYY"
    answers = []
    for typed in (unknown, "not a code", bravo.partner_code()):
        r = _offer(alpha, channel_id=x["id"], partner_code=typed)
        assert r.status_code == 422, (typed, r.text)
        assert list(r.json()["error"]["fields"]) == ["partner_code"], r.text
        answers.append(r.json()["error"]["message"])
        assert "Bravo" not in r.text and "suspended" not in r.text
    # Unknown, malformed and suspended read the same: a code tells nothing of the panels.
    assert len(set(answers)) == 1, answers
    own = _offer(alpha, channel_id=x["id"], partner_code=alpha.partner_code())
    assert own.status_code == 422 and "own panel" in own.json()["error"]["message"]
    # The former field is refused, never taken for a public offer.
    old = _offer(alpha, channel_id=x["id"], partner_tenant_id=bravo.id)
    assert old.status_code == 422 and "partner_tenant_id" in str(old.json()["error"]["fields"])
    too_wide = _offer(alpha, channel_id=x["id"], max_viewers=5, max_viewers_total=4)
    assert too_wide.status_code == 422 and "max_viewers" in too_wide.json()["error"]["fields"]
    with alpha.client() as a:
        assert a.get("/api/v1/syndication/offers").json() == []
    with root_client(server) as root:  # a platform admin has no panel, so no code
        assert root.get("/api/v1/syndication/partner-code").status_code == 403


# ---- a panel goes away ----


def test_deleting_the_owners_panel_ends_its_syndications_on_both_sides(
    server: RunningServer,
) -> None:
    alpha, bravo, charlie = (make_tenant(server, s) for s in ("alpha", "bravo", "charlie"))
    x, y = _channel(alpha, "Drum Stage"), _channel(alpha, "Bass Room")
    offer = created(_offer(alpha, channel_id=x["id"], auto_approve=True))
    entry_id, line = _carry(bravo, offer["id"], "bravo-viewer")
    with bravo.client() as b:
        (carrying,) = b.get("/api/v1/syndication/requests").json()
        syndication_id = carrying["id"]
    pending = created(_offer(alpha, channel_id=y["id"]))  # bravo's request waits
    with bravo.client() as b:
        waiting = created(b.post("/api/v1/syndication/requests", json={"offer_id": pending["id"]}))
    # Alpha is also a partner: it carries charlie's channel.
    z = _channel(charlie, "Jazz Hall")
    carried = created(
        _offer(charlie, channel_id=z["id"], auto_approve=True, partner_code=alpha.partner_code())
    )
    with alpha.client() as a:
        as_partner = created(
            a.post("/api/v1/syndication/requests", json={"offer_id": carried["id"]})
        )
    assert _live_ids(server, line) == {entry_id}

    with ExitStack() as stack:  # bravo's viewer is cut with the deletion
        ended = stack.enter_context(_watching(server, line, entry_id)).ended
        with root_client(server) as root:
            deleted_at = time.monotonic()
            assert root.delete(f"/api/v1/tenants/{alpha.id}").status_code == 204
        assert ended.wait(CUT_WITHIN * 3), "the partner's viewer kept watching"
        cut_after = time.monotonic() - deleted_at
    print(f"bravo's viewer cut {cut_after:.2f} s after alpha's deletion")
    assert cut_after < CUT_WITHIN

    with bravo.client() as b:
        assert b.get(f"/api/v1/channels/{entry_id}").status_code == 404
        assert b.get("/api/v1/channels").json()["items"] == []
        (bouquet,) = b.get("/api/v1/bouquets").json()["items"]
        assert b.get(f"/api/v1/bouquets/{bouquet['id']}/items").json()["items"] == []
        assert b.get("/api/v1/syndication/directory").json() == []
    assert _live_ids(server, line) == set()  # not listed, so never listed-but-unplayable
    (revoked,) = _audit(bravo, "revoke")
    assert (revoked["entity_id"], revoked["actor"]) == (str(syndication_id), "platform")
    assert revoked["after"]["end_reason"] == "the owner's panel was deleted"
    (refused,) = _audit(bravo, "refuse")
    assert refused["entity_id"] == str(waiting["id"]) and refused["actor"] == "platform"
    # Charlie loses alpha as a partner, and its log says why.
    with charlie.client() as c:
        assert c.get("/api/v1/syndication/partners").json() == []
    (cancelled,) = _audit(charlie, "cancel")
    assert cancelled["entity_id"] == str(as_partner["id"])
    assert cancelled["after"]["end_reason"] == "the partner's panel was deleted"


def test_deleting_an_offered_channel_refuses_the_waiting_requests(server: RunningServer) -> None:
    alpha, bravo = make_tenant(server, "alpha"), make_tenant(server, "bravo")
    x = _channel(alpha, "Drum Stage")
    offer = created(_offer(alpha, channel_id=x["id"], partner_code=bravo.partner_code()))
    with bravo.client() as b:
        waiting = created(b.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]}))
    with alpha.client() as a:
        assert a.delete(f"/api/v1/channels/{x['id']}").status_code == 204
    for world in (alpha, bravo):
        (refused,) = _audit(world, "refuse")
        assert refused["entity_id"] == str(waiting["id"])
        assert refused["after"]["end_reason"] == "the channel was deleted"
    with bravo.client() as b:
        assert b.get("/api/v1/syndication/directory").json() == []


def test_a_suspended_owner_plays_to_no_partner_until_it_is_resumed(
    server: RunningServer,
) -> None:
    alpha, bravo = make_tenant(server, "alpha"), make_tenant(server, "bravo")
    x = _channel(alpha, "Drum Stage")
    offer = created(_offer(alpha, channel_id=x["id"], auto_approve=True))
    entry_id, line = _carry(bravo, offer["id"], "bravo-viewer")
    other = created(_offer(alpha, channel_id=_channel(alpha, "Bass Room")["id"]))
    with ExitStack() as stack:
        ended = stack.enter_context(_watching(server, line, entry_id)).ended
        with root_client(server) as root:
            suspended_at = time.monotonic()
            assert root.post(f"/api/v1/tenants/{alpha.id}/suspend").status_code == 200
        assert ended.wait(CUT_WITHIN * 3), "the partner's viewer kept watching"
        cut_after = time.monotonic() - suspended_at
    print(f"bravo's viewer cut {cut_after:.2f} s after alpha's suspension")
    assert cut_after < CUT_WITHIN
    assert _play_status(server, line, entry_id) == (503, "CHANNEL_UNAVAILABLE\n")
    with bravo.client() as b:
        (mine,) = b.get("/api/v1/syndication/requests").json()
        assert (mine["status"], mine["owner_suspended"]) == ("active", True)
        assert b.get(f"/api/v1/channels/{entry_id}").status_code == 200  # nothing deleted
        assert b.get("/api/v1/syndication/directory").json() == []
        r = b.post("/api/v1/syndication/requests", json={"offer_id": other["id"]})
        assert r.status_code == 422, r.text
    for world in (alpha, bravo):
        (entry,) = _audit(world, "owner_suspend")
        assert entry["entity_id"] == str(mine["id"]) and entry["actor"] == "platform"

    with root_client(server) as root:
        assert root.post(f"/api/v1/tenants/{alpha.id}/resume").status_code == 200
    assert _play_status(server, line, entry_id) == (200, "")
    with bravo.client() as b:
        assert b.get("/api/v1/syndication/requests").json()[0]["owner_suspended"] is False
    for world in (alpha, bravo):
        assert len(_audit(world, "owner_resume")) == 1


# ---- the total cap ----


def test_an_offer_caps_all_its_partners_together(server: RunningServer) -> None:
    alpha, bravo, charlie = (make_tenant(server, s) for s in ("alpha", "bravo", "charlie"))
    x = _channel(alpha, "Drum Stage")
    offer = created(_offer(alpha, channel_id=x["id"], auto_approve=True, max_viewers_total=2))
    assert (offer["max_viewers"], offer["max_viewers_total"]) == (None, 2)
    bravo_entry, bravo_line = _carry(bravo, offer["id"], "bravo-viewer")
    charlie_entry, charlie_line = _carry(charlie, offer["id"], "charlie-viewer")
    with ExitStack() as stack:
        stack.enter_context(_watching(server, bravo_line, bravo_entry))
        first = stack.enter_context(_watching(server, charlie_line, charlie_entry))
        # Two partners' viewers fill the offer: a third, of either partner, is refused.
        for line, entry in ((bravo_line, bravo_entry), (charlie_line, charlie_entry)):
            assert _play_status(server, line, entry) == (429, "SYNDICATION_TOTAL_VIEWERS\n")
        engine = server.ctx.services["live"]
        assert engine.sessions.offer_count(offer["id"]) == 2
        # Charlie's viewer leaves: the place is free again, for any partner.
        first.leave.set()
        assert first.ended.wait(30)
        deadline = time.monotonic() + 30
        while engine.sessions.offer_count(offer["id"]) != 1:
            assert time.monotonic() < deadline, "the server never noticed the viewer left"
            time.sleep(0.1)
        assert _play_status(server, bravo_line, bravo_entry) == (200, "")
