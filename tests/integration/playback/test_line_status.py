"""Line statuses and refusals on every surface, and failed-login throttling (§3.3, §14)."""

from __future__ import annotations

import httpx
import pytest


def get(player, path: str, username: str, headers: dict | None = None, **params):
    query = {"username": username, "password": params.pop("password", "pw123"), **params}
    return httpx.get(f"{player.base}{path}", params=query, headers=headers or {}, timeout=30)


@pytest.mark.parametrize(
    ("username", "status"), [("expired", "Expired"), ("banned", "Banned"), ("disabled", "Disabled")]
)
def test_inactive_line_shows_its_status_and_gets_empty_catalogues(
    player, username: str, status: str
) -> None:
    r = get(player, "/player_api.php", username)
    assert r.status_code == 200
    user = r.json()["user_info"]
    assert user["auth"] == 1 and user["status"] == status
    for action in ("get_live_streams", "get_vod_streams", "get_series", "get_live_categories"):
        listing = get(player, "/player_api.php", username, action=action)
        assert listing.status_code == 200 and listing.json() == [], action
    info = get(player, "/player_api.php", username, action="get_vod_info", vod_id="1")
    assert info.json() == {"info": []}
    # §6.1 / §7.1: XC's playlist 404 and guide 401, with empty bodies.
    playlist = get(player, "/get.php", username, type="m3u_plus")
    assert playlist.status_code == 404 and playlist.content == b""
    assert get(player, "/xmltv.php", username).status_code == 401
    panel = get(player, "/panel_api.php", username).json()
    assert panel["user_info"]["status"] == status and panel["available_channels"] == {}


def test_bad_credentials_look_the_same_for_unknown_user_and_wrong_password(player) -> None:
    wrong = get(player, "/player_api.php", "alice", password="nope")
    unknown = get(player, "/player_api.php", "nobody")
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.json() == unknown.json() == {"user_info": {"auth": 0}}
    listing = get(player, "/player_api.php", "nobody", action="get_live_streams")
    assert listing.json() == {"user_info": {"auth": 0}}
    assert get(player, "/get.php", "nobody").status_code == 404
    assert get(player, "/xmltv.php", "nobody").status_code == 401


def test_ip_lock_refuses_other_addresses(player_behind_proxy) -> None:
    player = player_behind_proxy
    refused = get(player, "/player_api.php", "iplocked", headers={"X-Forwarded-For": "10.1.1.1"})
    assert refused.status_code == 403
    assert refused.json() == {"user_info": {"auth": 0}, "error": "NOT_IN_ALLOWED_IPS"}
    allowed = get(player, "/player_api.php", "iplocked", headers={"X-Forwarded-For": "10.9.9.9"})
    assert allowed.status_code == 200 and allowed.json()["user_info"]["auth"] == 1
    playlist = get(player, "/get.php", "iplocked", headers={"X-Forwarded-For": "10.1.1.1"})
    assert playlist.status_code == 403
    # A range allows every address inside it, and only those.
    inside = get(player, "/player_api.php", "iplocked", headers={"X-Forwarded-For": "192.0.2.77"})
    assert inside.status_code == 200 and inside.json()["user_info"]["auth"] == 1
    outside = get(player, "/player_api.php", "iplocked", headers={"X-Forwarded-For": "192.0.3.1"})
    assert outside.status_code == 403


def test_user_agent_lock_refuses_other_apps(player) -> None:
    refused = get(player, "/player_api.php", "ualocked", headers={"User-Agent": "OtherApp"})
    assert refused.status_code == 403 and refused.json()["error"] == "BLOCKED_USER_AGENT"
    ok = get(player, "/player_api.php", "ualocked", headers={"User-Agent": "GoodApp/1.0"})
    assert ok.json()["user_info"]["auth"] == 1
    assert get(player, "/xmltv.php", "ualocked", headers={"User-Agent": "x"}).status_code == 403


def test_output_not_allowed_is_refused_for_playlists(player) -> None:
    account = get(player, "/player_api.php", "hlsonly").json()
    assert account["user_info"]["allowed_output_formats"] == ["m3u8"]
    refused = get(player, "/get.php", "hlsonly", type="m3u", output="ts")
    assert refused.status_code == 405 and refused.text == "USER_DISALLOW_EXT"
    # With no output asked for, the line's own format is used instead of refusing.
    default = get(player, "/get.php", "hlsonly", type="m3u")
    assert default.status_code == 200 and "/live/hlsonly/pw123/" in default.text
    assert ".m3u8" in default.text and ".ts\r\n" not in default.text


def test_failed_logins_are_throttled_per_address(player_behind_proxy) -> None:
    player = player_behind_proxy
    limit = player.server.ctx.settings.login_max_failures
    attacker = {"X-Forwarded-For": "192.0.2.66"}
    for _ in range(limit):
        r = get(player, "/player_api.php", "alice", password="guess", headers=attacker)
        assert r.status_code == 200 and r.json()["user_info"]["auth"] == 0
    blocked = get(player, "/player_api.php", "alice", headers=attacker)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert get(player, "/get.php", "alice", headers=attacker).status_code == 429
    # Another address with the right password is unaffected.
    other = get(player, "/player_api.php", "alice", headers={"X-Forwarded-For": "192.0.2.7"})
    assert other.status_code == 200 and other.json()["user_info"]["auth"] == 1
    # The admin sign-in throttle is a separate counter.
    admin = httpx.post(
        f"{player.base}/api/v1/auth/token",
        data={"username": "root", "password": "root-password-for-tests"},
        headers=attacker,
    )
    assert admin.status_code == 200
