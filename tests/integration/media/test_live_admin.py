"""Admin API for the live engine: channel status, start/stop, sessions, ending one."""

from __future__ import annotations

import asyncio

import httpx

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.accounts.models import AdminUser, Role
from palinsesto.accounts.security import hash_password

from .conftest import LiveWorld
from .test_admission import _closed_within, _open


def _other_tenant_token(live: LiveWorld) -> str:
    with live.server.ctx.db.transaction() as session:
        tenant = ensure_tenant(session, "other", "Other")
        session.add(
            AdminUser(
                tenant_id=tenant.id,
                username="owner-other",
                password_hash=hash_password("pw-other-123"),
                role=Role.owner,
            )
        )
    return live.server.token("owner-other", "pw-other-123")


async def test_status_start_stop_sessions_and_ending_one(live: LiveWorld) -> None:
    root = live.server.token()
    other = _other_tenant_token(live)
    headers = {"Authorization": f"Bearer {root}"}
    api = f"{live.server.base_url}/api/v1/live"
    async with httpx.AsyncClient(headers=headers, timeout=20) as c:
        r = await c.get(f"{api}/channels/{live.pattern_id}")
        assert r.status_code == 200 and r.json()["status"] == "stopped"
        r = await c.post(f"{api}/channels/{live.pattern_id}/start")
        assert r.status_code == 200
        for _ in range(100):
            body = (await c.get(f"{api}/channels/{live.pattern_id}")).json()
            if body["status"] == "running" and body["fps"] > 0:
                break
            await asyncio.sleep(0.1)
        assert body["active_source"]["kind"] == "test_pattern"
        assert body["bitrate_kbps"] > 0 and body["uptime_seconds"] > 0
        status, reader, writer = await _open(live, "tv-app")
        assert status == 200
        await reader.read(20_000)
        sessions = (await c.get(f"{api}/sessions")).json()
        assert len(sessions) == 1
        s = sessions[0]
        assert (s["username"], s["channel_id"], s["output"], s["user_agent"]) == (
            live.username,
            live.pattern_id,
            "ts",
            "tv-app",
        )
        assert s["ip"] == "127.0.0.1" and s["bytes"] > 0
        assert (await c.get(f"{api}/channels/{live.pattern_id}")).json()["viewers"] == 1
        # Another tenant sees nothing and can end nothing.
        o = {"Authorization": f"Bearer {other}"}
        assert (await c.get(f"{api}/sessions", headers=o)).json() == []
        assert (await c.delete(f"{api}/sessions/{s['id']}", headers=o)).status_code == 404
        assert (await c.get(f"{api}/channels/{live.pattern_id}", headers=o)).status_code == 404
        assert (
            await c.post(f"{api}/channels/{live.pattern_id}/stop", headers=o)
        ).status_code == 404
        # Ending the session cuts the viewer within 2 s.
        assert (await c.delete(f"{api}/sessions/{s['id']}")).status_code == 204
        assert await _closed_within(reader, 2.0)
        assert (await c.get(f"{api}/sessions")).json() == []
        r = await c.post(f"{api}/channels/{live.pattern_id}/stop")
        assert r.status_code == 200 and r.json()["status"] == "stopped"
        writer.close()
