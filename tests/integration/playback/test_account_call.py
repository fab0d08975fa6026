"""The account call's fast path: per-line bytes rebuilt each second, and every request form
that reaches it (§2, §3.1–3.2, §14)."""

from __future__ import annotations

import time

import httpx

ALICE = {"username": "alice", "password": "pw123"}


def account(player, **kwargs) -> httpx.Response:
    return httpx.get(f"{player.base}/player_api.php", timeout=30, **kwargs)


def test_clock_fields_move_each_second_and_etag_answers_304(player) -> None:
    first = account(player, params=ALICE)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert first.headers["vary"] == "Accept-Encoding"
    again = account(player, params=ALICE, headers={"If-None-Match": first.headers["etag"]})
    if again.status_code == 200:  # the second turned between the two requests
        assert (
            again.json()["server_info"]["timestamp_now"]
            > first.json()["server_info"]["timestamp_now"]
        )
    else:
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == first.headers["etag"]
    time.sleep(1.1)
    later = account(player, params=ALICE).json()["server_info"]
    assert later["timestamp_now"] > first.json()["server_info"]["timestamp_now"]
    assert later["time_now"] == time.strftime(
        "%Y-%m-%d %H:%M:%S", time.gmtime(later["timestamp_now"])
    )


def test_a_line_edit_shows_at_once_not_after_the_second(player) -> None:
    assert account(player, params=ALICE).json()["user_info"]["status"] == "Active"
    with player.server.client(player.server.token()) as admin:
        r = admin.patch(f"/api/v1/lines/{player.catalog.lines['alice']}", json={"enabled": False})
        assert r.status_code == 200, r.text
    body = account(player, params=ALICE).json()
    assert body["user_info"]["status"] == "Disabled" and body["user_info"]["auth"] == 1


def test_post_form_path_form_and_escaped_credentials_reach_the_same_account(player) -> None:
    via_get = account(player, params=ALICE).json()["user_info"]
    via_post = httpx.post(f"{player.base}/player_api.php", data=ALICE, timeout=30)
    assert via_post.status_code == 200 and via_post.json()["user_info"] == via_get
    via_path = httpx.get(f"{player.base}/player_api/alice/pw123", timeout=30)
    assert via_path.json()["user_info"] == via_get
    # Percent-escapes in the query go through the full decoder.
    escaped = account(player, params={"username": "%61lice", "password": "pw123"})
    assert escaped.json() == {"user_info": {"auth": 0}}  # "%61lice" is not "alice"
    raw = httpx.get(f"{player.base}/player_api.php?username=%61lice&password=pw%31%323")
    assert raw.json()["user_info"] == via_get
    wrong_method = httpx.put(f"{player.base}/player_api.php", params=ALICE, timeout=30)
    assert wrong_method.status_code == 405
