"""Library folders scanned into movies and series: real files made by ffmpeg, sidecars,
posters, broken files, incremental re-scans, progress, and tenants kept apart."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from support.admin_api import TenantWorld, created, make_tenant
from support.library_media import link, movie_folder, series_folder, wait_scan
from support.media import FFMPEG
from support.server import RunningServer
from support.vod_media import VodSamples

PASSWORD = "lib-pass-1"


def _media(server: RunningServer, tenant: TenantWorld) -> Path:
    return server.ctx.settings.effective_media_root / str(tenant.id)


def _library(
    c: httpx.Client, path: str, kind: str = "movie", name: str = "Films"
) -> dict[str, Any]:
    return created(c.post("/api/v1/libraries", json={"name": name, "path": path, "kind": kind}))


def _scan(c: httpx.Client, library_id: int) -> dict[str, Any]:
    r = c.post(f"/api/v1/libraries/{library_id}/scan")
    assert r.status_code == 202, r.text
    return wait_scan(c, library_id)


def _line_for(c: httpx.Client, username: str, movies: list[int], series: list[int]) -> None:
    bouquet = created(c.post("/api/v1/bouquets", json={"name": f"B-{username}"}))
    items = [{"item_type": "movie", "item_id": i} for i in movies]
    items += [{"item_type": "series", "item_id": i} for i in series]
    r = c.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
    assert r.status_code == 200, r.text
    created(
        c.post(
            "/api/v1/lines",
            json={"username": username, "password": PASSWORD, "bouquet_ids": [bouquet["id"]]},
        )
    )


def _player_api(server: RunningServer, username: str, **params: Any) -> Any:
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        r = c.get("/player_api.php", params={"username": username, "password": PASSWORD, **params})
        r.raise_for_status()
        return r.json()


def _movies(c: httpx.Client) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in c.get("/api/v1/movies", params={"per_page": 500}).json()["items"]}


def test_a_movie_library_scan_makes_movies_from_files_sidecars_and_posters(
    sqlite_server: RunningServer, vod_samples: VodSamples
) -> None:
    server = sqlite_server
    tenant = make_tenant(server, "libco")
    files = movie_folder(_media(server, tenant) / "films", vod_samples)
    with tenant.client("owner") as c:
        library = _library(c, "films")
        scan = _scan(c, library["id"])
        assert scan["state"] == "done", scan
        assert (scan["files_seen"], scan["files_probed"], scan["files_failed"]) == (3, 3, 1)
        assert scan["percent"] == 100.0

        # The broken file: recorded with ffmpeg's reason (no path), and no movie made of it.
        broken = c.get(f"/api/v1/libraries/{library['id']}/files", params={"status": "broken"})
        [row] = broken.json()["items"]
        assert row["rel_path"] == "Broken.Film.2020.mp4"
        assert "Invalid data found" in row["probe_error"], row
        assert str(server.ctx.settings.effective_media_root) not in row["probe_error"]
        assert row["movie_id"] is None
        listed = c.get(f"/api/v1/libraries/{library['id']}").json()
        assert (listed["files_ok"], listed["files_broken"], listed["files_missing"]) == (2, 1, 0)

        movies = _movies(c)
        assert set(movies) == {"The Movie Name", "Two Voices"}
        named = movies["The Movie Name"]  # from the file name
        assert named["year"] == 2019 and named["container_extension"] == "mp4"
        assert named["source_url"] == "films/The.Movie.Name.2019.1080p.mp4"
        assert named["duration_secs"] == 90 and named["media_info"]["video"]["codec_name"] == "h264"
        nfo = movies["Two Voices"]  # from movie.nfo
        assert (nfo["year"], nfo["rating"], nfo["genre"]) == (2016, 7.8, "Drama, Music")
        assert nfo["plot"] == "A film heard in two languages."
        langs = [a["tags"]["language"] for a in nfo["media_info"]["audio"]]
        assert langs == ["eng", "ita"] and nfo["container_extension"] == "mkv"
        _line_for(c, "libviewer", [named["id"], nfo["id"]], [])

    # The player API gives the probed values and the poster URL, which the panel serves.
    listed_vod = {
        m["stream_id"]: m for m in _player_api(server, "libviewer", action="get_vod_streams")
    }
    icon = listed_vod[named["id"]]["stream_icon"]
    assert icon.startswith(f"{server.base_url}/posters/{tenant.id}/"), icon
    with httpx.Client(timeout=30) as h:
        r = h.get(icon)
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert (
            r.content == (files["mp4"].parent / "The.Movie.Name.2019.1080p-poster.jpg").read_bytes()
        )
        # A path without a signature of ours shows nothing of the media folder.
        forged = re.sub(r"/posters/(\d+)/[0-9a-f]+/", r"/posters/\1/" + "0" * 24 + "/", icon)
        assert h.get(forged).status_code == 404
    info = _player_api(server, "libviewer", action="get_vod_info", vod_id=nfo["id"])
    assert info["info"]["duration_secs"] == 8
    assert info["info"]["video"]["codec_name"] == "h264"
    assert info["info"]["video"]["width"] == 320
    assert info["info"]["audio"]["tags"] == {"language": "eng"}
    assert info["info"]["movie_image"].startswith(f"{server.base_url}/posters/")
    assert info["movie_data"]["container_extension"] == "mkv"

    # The scanned movie plays through /movie/..., decoded by ffmpeg.
    url = f"{server.base_url}/movie/libviewer/{PASSWORD}/{named['id']}.mp4"
    run = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", url, "-t", "3", "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    frames = re.findall(r"frame=\s*(\d+)", run.stderr)
    assert frames and int(frames[-1]) >= 60, run.stderr[-1000:]


def test_a_rescan_probes_only_changed_files_and_marks_removed_ones_missing(
    server: RunningServer, vod_samples: VodSamples
) -> None:
    """On SQLite and PostgreSQL: the scan's writes are the same on both."""
    tenant = make_tenant(server, "rescanco")
    folder = _media(server, tenant) / "films"
    files = movie_folder(folder, vod_samples)
    with tenant.client("owner") as c:
        library = _library(c, "films")
        _scan(c, library["id"])
        before = _movies(c)

        again = _scan(c, library["id"])
        assert (again["files_seen"], again["files_to_probe"], again["files_probed"]) == (3, 0, 0)
        assert again["files_unchanged"] == 3

        # One file touched, one added, one removed: only the first two are probed.
        st = files["mp4"].stat()
        os.utime(files["mp4"], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        link(vod_samples.mp4, folder / "New.Arrival.2024.mp4")
        files["mkv"].unlink()
        third = _scan(c, library["id"])
        assert (third["files_seen"], third["files_to_probe"], third["files_probed"]) == (3, 2, 2)
        assert (third["files_unchanged"], third["files_missing"]) == (1, 1)

        movies = _movies(c)
        assert set(movies) == {"The Movie Name", "Two Voices", "New Arrival"}
        assert movies["The Movie Name"]["id"] == before["The Movie Name"]["id"]  # updated, not new
        gone = movies["Two Voices"]  # kept, but no longer offered
        assert gone["enabled"] is False and "missing" in gone["probe_error"]
        missing = c.get(f"/api/v1/libraries/{library['id']}/files", params={"status": "missing"})
        assert [f["rel_path"] for f in missing.json()["items"]] == [
            "Dual Audio Film (2015)/Dual Audio Film (2015).mkv"
        ]

        # It comes back: probed again, the same movie enabled again.
        link(vod_samples.mkv, files["mkv"])
        fourth = _scan(c, library["id"])
        assert (fourth["files_to_probe"], fourth["files_missing"]) == (1, 0)
        back = _movies(c)["Two Voices"]
        assert back["id"] == gone["id"] and back["enabled"] is True and back["probe_error"] == ""


def test_progress_is_readable_mid_scan_and_a_second_scan_is_refused(
    sqlite_server: RunningServer, vod_samples: VodSamples
) -> None:
    server = sqlite_server
    tenant = make_tenant(server, "progressco")
    folder = _media(server, tenant) / "many"
    for i in range(40):
        target = link(vod_samples.mkv, folder / f"Clip.{i:03d}.2020.mkv")
        os.utime(target, ns=(1_700_000_000_000_000_000 + i, 1_700_000_000_000_000_000 + i))
    with tenant.client("owner") as c:
        library = _library(c, "many")
        r = c.post(f"/api/v1/libraries/{library['id']}/scan")
        assert r.status_code == 202, r.text
        again = c.post(f"/api/v1/libraries/{library['id']}/scan")
        assert again.status_code == 409, again.text
        assert "being scanned" in again.json()["error"]["message"]
        seen_mid: list[dict[str, Any]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            scan = c.get(f"/api/v1/libraries/{library['id']}/scan").json()
            if scan["state"] != "running":
                break
            if scan["phase"] == "probing" and 0 < scan["files_probed"] < 40:
                seen_mid.append(scan)
            time.sleep(0.02)
        assert scan["state"] == "done" and scan["files_probed"] == 40, scan
        assert seen_mid, "no progress seen while probing"
        mid = seen_mid[len(seen_mid) // 2]
        assert 0 < mid["percent"] < 100 and mid["current_file"].startswith("Clip.")
        assert mid["files_seen"] == 40 and mid["files_to_probe"] == 40
        # The library list shows the running state too (the page's progress bar reads it).
        assert len(_movies(c)) == 40


def test_a_series_library_makes_series_seasons_and_episodes(
    sqlite_server: RunningServer, vod_samples: VodSamples
) -> None:
    server = sqlite_server
    tenant = make_tenant(server, "showco")
    series_folder(_media(server, tenant) / "shows", vod_samples)
    with tenant.client("owner") as c:
        library = _library(c, "shows", kind="series", name="Shows")
        scan = _scan(c, library["id"])
        assert (scan["state"], scan["files_seen"], scan["files_failed"]) == ("done", 3, 0)
        series = {s["name"]: s for s in c.get("/api/v1/series").json()["items"]}
        assert set(series) == {"Show Name", "Other Show"}
        show = series["Show Name"]
        assert (show["year"], show["rating"], show["genre"]) == (2021, 8.1, "Cooking")
        assert show["cover"].startswith(f"{server.base_url}/posters/")
        _line_for(c, "showviewer", [], [s["id"] for s in series.values()])

    info = _player_api(server, "showviewer", action="get_series_info", series_id=show["id"])
    episodes = info["episodes"]["1"]
    assert [e["episode_num"] for e in episodes] == [1, 2]
    assert [e["container_extension"] for e in episodes] == ["mp4", "mkv"]
    assert episodes[0]["info"]["duration_secs"] == 90
    assert episodes[1]["info"]["video"]["codec_name"] == "h264"
    other = _player_api(
        server, "showviewer", action="get_series_info", series_id=series["Other Show"]["id"]
    )
    [visit] = other["episodes"]["2"]
    assert (visit["episode_num"], visit["title"]) == (3, "The Visit")


def test_library_paths_stay_inside_the_tenant_folder_and_tenants_are_apart(
    sqlite_server: RunningServer, vod_samples: VodSamples
) -> None:
    server = sqlite_server
    a, b = make_tenant(server, "tenanta"), make_tenant(server, "tenantb")
    movie_folder(_media(server, a) / "films", vod_samples)
    (_media(server, b) / "mine").mkdir(parents=True)
    (_media(server, b) / "escape").symlink_to(_media(server, a) / "films")
    with a.client("owner") as c:
        lib_a = _library(c, "films")
        _scan(c, lib_a["id"])
    with b.client("owner") as c:
        for path in (f"../{a.id}/films", "/etc", "mine/../../x", "escape", "nope"):
            r = c.post("/api/v1/libraries", json={"name": "x", "path": path, "kind": "movie"})
            assert r.status_code == 422, (path, r.text)
            assert str(server.ctx.settings.effective_media_root) not in r.text
            if ".." in path:
                assert "must not leave the tenant's media folder" in r.json()["error"]["message"]
        assert c.get("/api/v1/libraries").json()["items"] == []
        assert c.get(f"/api/v1/libraries/{lib_a['id']}").status_code == 404
        assert c.post(f"/api/v1/libraries/{lib_a['id']}/scan").status_code == 404
        assert c.get(f"/api/v1/libraries/{lib_a['id']}/files").status_code == 404
        assert c.get("/api/v1/movies").json()["items"] == []
        _library(c, "mine")  # its own folder is fine
    with a.client("support") as c:  # support reads, never scans
        assert c.get(f"/api/v1/libraries/{lib_a['id']}").status_code == 200
        assert c.post(f"/api/v1/libraries/{lib_a['id']}/scan").status_code == 403


def test_a_movie_preview_url_plays_that_movie_only(
    sqlite_server: RunningServer, vod_samples: VodSamples
) -> None:
    server = sqlite_server
    tenant = make_tenant(server, "previewco")
    files = movie_folder(_media(server, tenant) / "films", vod_samples)
    with tenant.client("owner") as c:
        _scan(c, _library(c, "films")["id"])
        movie = _movies(c)["The Movie Name"]
        r = c.post(f"/api/v1/movies/{movie['id']}/preview")
        assert r.status_code == 200, r.text
        preview = r.json()
    assert preview["browser_playable"] is True
    assert preview["url"].endswith(f"/{movie['id']}.mp4") and "~watch" in preview["url"]
    data = files["mp4"].read_bytes()
    with httpx.Client(base_url=server.base_url, timeout=30, follow_redirects=True) as h:
        r = h.get(preview["url"], headers={"Range": "bytes=1000-1999"})
        assert r.status_code == 206 and r.content == data[1000:2000]
        token = preview["url"].split("/")[3]
        # The token names this movie: not another id, not a live channel of that id.
        assert h.get(f"/movie/~watch/{token}/{movie['id'] + 1}.mp4").status_code in (401, 403)
        assert h.get(f"/live/~watch/{token}/{movie['id']}.m3u8").status_code in (401, 403)
        tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        assert h.get(f"/movie/~watch/{tampered}/{movie['id']}.mp4").status_code in (401, 403)
