"""No secret in any log: a real ``palinsesto serve`` process, at log level debug and info,
goes through the flows that carry secrets (admin sign-in with a wrong and a right password,
TOTP set-up and sign-in, the player API, get.php and xmltv.php, a live TS play and an HLS
play with its segment tokens, a push channel's stream key, notices from the public and a
trusted notifier, a counter-notice), and everything the process wrote (stdout and stderr
together, plus any file in its data directory ending in .log) is searched for every
secret it was given or handed out.

At debug the access log is on, and viewers' passwords travel in its paths and query
strings: the test also checks that those lines are there, masked.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from support.media import FFMPEG
from support.serve_process import serve_env, serve_process

ADMIN_PASSWORD = "Adm1n-Secret-Password-7781"
WRONG_PASSWORD = "Wr0ng-Admin-Password-4412"
LINE_PASSWORD = "Line-Pw-9QxZ3"
SECRET_KEY = "log-test-secret-key-" + "k" * 32


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def _play(url: str, seconds: float) -> None:
    """A real player: ffmpeg reads ``url`` for ``seconds`` (following the redirect)."""
    done = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-t", str(seconds), "-i", url, "-f", "null", "-"],
        capture_output=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]


def _flows(base: str, secrets: set[str]) -> None:
    with httpx.Client(base_url=base, timeout=60) as anon:
        assert (
            anon.post(
                "/api/v1/auth/token", data={"username": "root", "password": WRONG_PASSWORD}
            ).status_code
            == 401
        )
        token = _ok(
            anon.post("/api/v1/auth/token", data={"username": "root", "password": ADMIN_PASSWORD})
        )["access_token"]
        secrets.add(token)
    admin = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"})
    with admin:
        # Two-factor sign-in: the secret, a wrong code, a right one.
        totp_secret = _ok(admin.post("/api/v1/auth/totp/setup"))["secret"]
        secrets.add(totp_secret)
        authenticator = pyotp.TOTP(totp_secret)
        recovery = _ok(admin.post("/api/v1/auth/totp/confirm", json={"code": authenticator.now()}))
        secrets.update(recovery["recovery_codes"])
        with httpx.Client(base_url=base, timeout=60) as anon:
            data = {"username": "root", "password": ADMIN_PASSWORD, "otp": "000000"}
            assert anon.post("/api/v1/auth/token", data=data).status_code == 401
            time.sleep(0.1)
            data["otp"] = authenticator.now()
            r = anon.post("/api/v1/auth/token", data=data)
            if r.status_code == 401:  # the code of the step just spent: wait for the next
                time.sleep(31 - time.time() % 30)
                data["otp"] = authenticator.now()
                r = anon.post("/api/v1/auth/token", data=data)
            secrets.add(_ok(r)["access_token"])

        tenant = _ok(admin.post("/api/v1/tenants", json={"name": "Acme", "slug": "acme"}), 201)
        tid = tenant["id"]
        channel = _ok(
            admin.post(
                "/api/v1/channels",
                json={
                    "name": "Pattern",
                    "mode": "on_demand",
                    "tenant_id": tid,
                    "sources": [{"kind": "test_pattern", "url": "testsrc://160x90@25"}],
                },
            ),
            201,
        )
        pushed = _ok(
            admin.post(
                "/api/v1/channels",
                json={
                    "name": "Studio",
                    "tenant_id": tid,
                    "sources": [{"kind": "push_rtmp", "url": ""}],
                },
            ),
            201,
        )
        secrets.add(pushed["stream_key"])
        bouquet = _ok(admin.post("/api/v1/bouquets", json={"name": "All", "tenant_id": tid}), 201)
        _ok(
            admin.put(
                f"/api/v1/bouquets/{bouquet['id']}/items",
                json={"items": [{"item_type": "channel", "item_id": channel["id"]}]},
            )
        )
        _ok(
            admin.post(
                "/api/v1/lines",
                json={
                    "username": "viewer1",
                    "password": LINE_PASSWORD,
                    "bouquet_ids": [bouquet["id"]],
                    "tenant_id": tid,
                    "allowed_outputs": ["ts", "m3u8"],
                },
            ),
            201,
        )
        notifier_key = _ok(
            admin.post("/api/v1/trusted-notifiers", json={"name": "League", "tenant_id": tid}), 201
        )["key"]
        secrets.add(notifier_key)

    creds = {"username": "viewer1", "password": LINE_PASSWORD}
    with httpx.Client(base_url=base, timeout=60) as app:
        assert _ok(app.get("/player_api.php", params=creds))["user_info"]["status"] == "Active"
        _ok(app.get("/player_api.php", params={**creds, "action": "get_live_streams"}))
        assert (
            app.get("/get.php", params={**creds, "type": "m3u_plus", "output": "ts"}).status_code
            == 200
        )
        assert app.get("/xmltv.php", params=creds).status_code == 200
        assert app.get(
            "/player_api.php", params={"username": "viewer1", "password": "nope"}
        ).status_code in (200, 401, 403)
    live = f"{base}/live/viewer1/{LINE_PASSWORD}/{channel['id']}"
    _play(f"{live}.ts", 2)
    _play(f"{live}.m3u8", 3)
    playlist = httpx.get(f"{live}.m3u8", follow_redirects=True, timeout=60)
    assert playlist.status_code == 200, playlist.text
    segments = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    tokens = {m.group(1) for s in segments if (m := re.search(r"/hls/([^/]+)/", s))}
    assert tokens, playlist.text
    secrets.update(tokens)
    segment = httpx.get(str(playlist.url.join(segments[-1])), timeout=60)
    assert segment.status_code == 200

    notice = {
        "regime": "dsa",
        "tenant": "acme",
        "notifier_name": "Rights Holder",
        "notifier_email": "legal@rights.example",
        "explanation": "This line restreams our match to a public website.",
        "locations": [f"{live}.ts"],
        "good_faith": True,
        "accurate": True,
    }
    with httpx.Client(base_url=base, timeout=60) as anyone:
        _ok(anyone.post("/api/v1/public/notices", json={**notice, "locations": []}), 422)
        receipt = _ok(
            anyone.post(
                "/api/v1/public/notices", json=notice, headers={"X-Notifier-Key": notifier_key}
            ),
            201,
        )
        assert receipt["status"] == "actioned"  # the fast path suspended the line
        secrets.add(receipt["receipt"])


@pytest.mark.parametrize("level", ["debug", "info"])
def test_no_secret_in_any_log(tmp_path: Path, level: str) -> None:
    data_dir = tmp_path / "data"
    env = serve_env(
        data_dir,
        log_level=level,
        admin_username="root",
        admin_password=ADMIN_PASSWORD,
        secret_key=SECRET_KEY,
        database_url=f"sqlite:///{tmp_path / 'logs.db'}",
    )
    secrets = {ADMIN_PASSWORD, WRONG_PASSWORD, LINE_PASSWORD, SECRET_KEY}
    with serve_process(env, "--no-demo") as served:
        served.wait_healthy()
        _flows(served.base_url, secrets)
    written = served.output + "".join(
        path.read_text(errors="replace") for path in data_dir.rglob("*.log")
    )
    leaked = sorted(s for s in secrets if s in written)
    assert leaked == [], f"secrets in the {level} log: {leaked}\n{written[-4000:]}"
    if level == "debug":  # the access log is on, and masks what it must
        assert re.search(
            r'"GET /player_api\.php\?username=viewer1&password=\*\*\* HTTP', written
        ), written[-4000:]
        assert "GET /live/viewer1/***/" in written, written[-4000:]
    else:
        assert "GET /player_api.php" not in written
    print(f"\n{level}: {len(written.splitlines())} log lines, {len(secrets)} secrets, none found")
