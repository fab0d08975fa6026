"""Movies and episodes created through the admin API are probed, and the player API and
get.php advertise what plays: real extensions, real durations and codecs."""

from __future__ import annotations

import httpx

from support.player_checks import m3u_entries
from support.server import RunningServer
from support.vod_media import VodSamples

from .conftest import build_world


def test_admin_api_probes_files_and_player_api_shows_the_probed_values(
    server: RunningServer, vod_samples: VodSamples
) -> None:
    world = build_world(server, vod_samples)
    mp4, mkv, broken = (world.movies[k] for k in ("mp4", "mkv", "broken"))
    assert mp4["container_extension"] == "mp4" and mkv["container_extension"] == "mkv"
    assert mp4["probe_error"] == "" and mp4["duration_secs"] == 90
    assert mp4["media_info"]["video"]["codec_name"] == "h264"
    assert [a["tags"]["language"] for a in mkv["media_info"]["audio"]] == ["eng", "ita"]
    # A broken file is stored with ffmpeg's reason, not a crash and not a path.
    assert "Invalid data found" in broken["probe_error"]
    assert str(world.media_folder) not in broken["probe_error"]
    assert broken["media_info"] == {}

    listed = world.player_api(action="get_vod_streams")
    by_id = {m["stream_id"]: m for m in listed}
    assert set(by_id) == {mp4["id"], mkv["id"]}  # never advertise the broken one
    assert by_id[mkv["id"]]["container_extension"] == "mkv"
    assert by_id[mp4["id"]]["episode_run_time"] == "1"

    info = world.player_api(action="get_vod_info", vod_id=mp4["id"])["info"]
    assert info["duration_secs"] == 90 and info["duration"] == "00:01:30"
    assert 200 < info["bitrate"] < 1000
    assert (info["video"]["width"], info["video"]["height"]) == (320, 180)
    assert info["video"]["codec_name"] == "h264"
    assert info["audio"]["codec_name"] == "aac" and info["audio"]["sample_rate"] == "44100"
    assert world.player_api(action="get_vod_info", vod_id=broken["id"]) == {"info": []}

    series = world.player_api(action="get_series_info", series_id=world.series["id"])
    episodes = {e["id"]: e for e in series["episodes"]["1"]}
    e1, e2 = str(world.episodes["e1"]["id"]), str(world.episodes["e2"]["id"])
    assert episodes[e1]["container_extension"] == "mp4"
    assert episodes[e1]["info"]["duration_secs"] == 90
    assert episodes[e2]["container_extension"] == "mkv"
    assert episodes[e2]["info"]["audio"]["tags"] == {"language": "eng"}
    assert episodes[e2]["info"]["video"]["codec_name"] == "h264"

    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        r = c.get(
            "/get.php",
            params={"username": world.username, "password": world.password, "type": "m3u_plus"},
        )
    _, entries = m3u_entries(r.text)
    tails = sorted(
        e["_url"].split("/", 3)[3].split("/", 1)[0] + "/" + e["_url"].rsplit("/", 1)[1]
        for e in entries
    )
    assert tails == sorted(
        [
            f"movie/{mp4['id']}.mp4",
            f"movie/{mkv['id']}.mkv",
            f"series/{world.episodes['e1']['id']}.mp4",
            f"series/{world.episodes['e2']['id']}.mkv",
        ]
    )


def test_changing_the_source_reprobes_and_a_wrong_extension_is_refused(vod) -> None:  # noqa: ANN001
    movie = vod.movies["mp4"]
    with vod.admin() as c:
        r = c.patch(f"/api/v1/movies/{movie['id']}", json={"source_url": "dual.mkv"})
        assert r.status_code == 200, r.text
        assert r.json()["container_extension"] == "mkv"
        assert r.json()["duration_secs"] == 8
        r = c.patch(f"/api/v1/movies/{movie['id']}", json={"container_extension": "mp4"})
        assert r.status_code == 422
        assert "mkv" in r.text
        assert c.get(f"/api/v1/movies/{movie['id']}").json()["container_extension"] == "mkv"
        r = c.post(
            "/api/v1/movies",
            json={"name": "x", "source_url": "feature.mp4", "container_extension": "avi"},
        )
        assert r.status_code == 422
