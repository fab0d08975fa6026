"""A movie as HLS: ``/movie/U/P/ID.m3u8`` answers a VOD playlist whose segments are cut
at keyframes on the fly without re-encoding; real ffmpeg plays it through the panel's URL
and decodes the whole film with continuous timestamps, and seeks in it."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from palinsesto.accounts.models import ConnectionPolicy
from support.admin_api import created
from support.media import FFMPEG

from .conftest import VodWorld


@pytest.fixture(scope="session")
def bframes_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s of H.264 with B-frames and a keyframe every 2 s (more on scene cuts), and AAC
    at 48 kHz, whose 1024-sample frames straddle most cut points."""
    path = tmp_path_factory.mktemp("vod-hls") / "bframes.mp4"
    subprocess.run(
        [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "40", "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "50",
            "-b:v", "300k", "-c:a", "aac", "-b:a", "64k", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path


def _ffmpeg(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", *args], capture_output=True, text=True, timeout=timeout
    )


def _times(stderr: str) -> list[float]:
    return [float(t) for t in re.findall(r"pts_time:(-?[\d.]+)", stderr)]


def _video_times(url: str, *before: str) -> list[float]:
    run = _ffmpeg(*before, "-i", url, "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-")
    assert run.returncode == 0, run.stderr[-2000:]
    return _times(run.stderr)


def _audio_frames(url: str) -> list[tuple[float, int, int]]:
    run = _ffmpeg("-i", url, "-map", "0:a:0", "-af", "ashowinfo", "-f", "null", "-")
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.findall(r"pts_time:([\d.]+).*?nb_samples:(\d+).*?rate:(\d+)", run.stderr)
    return [(float(t), int(n), int(r)) for t, n, r in found]


def _add_movie(vod: VodWorld, source: Path, key: str) -> dict[str, object]:
    target = vod.media_folder / source.name
    if not target.exists():
        target.write_bytes(source.read_bytes())
    with vod.admin() as c:
        movie = created(c.post("/api/v1/movies", json={"name": key, "source_url": source.name}))
        items = [
            {"item_type": "movie", "item_id": m["id"]}
            for k, m in vod.movies.items()
            if k != "hidden"
        ]
        items += [
            {"item_type": "movie", "item_id": movie["id"]},
            {"item_type": "series", "item_id": vod.series["id"]},
        ]
        r = c.put(f"/api/v1/bouquets/{vod.bouquet_id}/items", json={"items": items})
        assert r.status_code == 200, r.text
    vod.movies[key] = movie
    return movie


def test_ffmpeg_plays_the_whole_movie_as_hls_with_continuous_timestamps(
    vod: VodWorld, bframes_mp4: Path
) -> None:
    _add_movie(vod, bframes_mp4, "bframes")
    url = vod.movie_url("bframes", ext="m3u8")  # the panel's URL: a 302 to the data plane

    source = _video_times(str(bframes_mp4))
    played = _video_times(url)
    assert len(played) == len(source) == 1000
    frame = 1 / 25
    steps = [b - a for a, b in zip(played, played[1:], strict=False)]
    assert all(0.5 * frame < s < 1.5 * frame for s in steps), [
        (played[i], s) for i, s in enumerate(steps) if not 0.5 * frame < s < 1.5 * frame
    ][:5]
    length = played[-1] - played[0] + frame
    assert abs(length - (source[-1] - source[0] + frame)) < 0.5

    # Audio too: every sample once, no gap or overlap where two segments meet.
    audio = _audio_frames(url)
    original = _audio_frames(str(bframes_mp4))
    assert sum(n for _, n, _ in audio) == sum(n for _, n, _ in original)
    for (t0, n0, rate), (t1, _, _) in zip(audio, audio[1:], strict=False):
        assert abs(t1 - (t0 + n0 / rate)) < 0.002, (t0, t1)


def test_the_playlist_is_a_vod_playlist_cut_at_keyframes(vod: VodWorld, bframes_mp4: Path) -> None:
    _add_movie(vod, bframes_mp4, "bframes")
    with httpx.Client(timeout=60, follow_redirects=True) as c:
        r = c.get(vod.movie_url("bframes", ext="m3u8"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.apple.mpegurl"
    text = r.text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
    durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", text)]
    target = int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", text)[1])  # type: ignore[index]
    assert abs(sum(durations) - 40.0) < 0.1
    assert all(6.0 <= d <= 10.0 for d in durations[:-1]), durations
    assert all(round(d) <= target for d in durations)
    # Each cut is a keyframe of the file.
    run = _ffmpeg("-skip_frame", "nokey", "-i", str(bframes_mp4), "-map", "0:v:0",
                  "-vf", "showinfo", "-f", "null", "-")  # fmt: skip
    keys = _times(run.stderr)
    start = 0.0
    for d in durations[:-1]:
        start += d
        assert min(abs(k - start) for k in keys) < 0.001, (start, keys)


def test_seeking_30_s_into_the_hls_playlist_lands_within_a_second(
    vod: VodWorld, bframes_mp4: Path
) -> None:
    _add_movie(vod, bframes_mp4, "bframes")
    url = vod.movie_url("bframes", ext="m3u8")
    first = _ffmpeg("-copyts", "-i", url, "-map", "0:v:0", "-frames:v", "1",
                    "-vf", "showinfo", "-f", "null", "-")  # fmt: skip
    run = _ffmpeg("-ss", "30", "-copyts", "-i", url, "-map", "0:v:0", "-frames:v", "3",
                  "-vf", "showinfo", "-f", "null", "-")  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    origin = _times(first.stderr)[0]
    landed = [t - origin for t in _times(run.stderr)]
    assert len(landed) >= 3 and all(abs(t - 30.0) <= 1.0 for t in landed), landed


def test_an_hls_play_is_one_connection_and_its_segments_need_its_token(
    vod: VodWorld, bframes_mp4: Path
) -> None:
    _add_movie(vod, bframes_mp4, "bframes")
    vod.set_policy(ConnectionPolicy.refuse)
    url = vod.movie_url("bframes", base=vod.data_plane, ext="m3u8")
    with httpx.Client(timeout=60) as c:
        first = c.get(url, headers={"User-Agent": "player-a"})
        again = c.get(url, headers={"User-Agent": "player-a"})  # a reload: the same play
        assert first.status_code == again.status_code == 200
        outputs = [s.output for s in vod.engine.sessions.all()]
        assert outputs == ["movie-hls"]
        assert c.get(url, headers={"User-Agent": "player-b"}).status_code == 200
        third = c.get(url, headers={"User-Agent": "player-c"})
        assert third.status_code == 429 and third.text == "USER_MAX_CONNECTIONS\n"
        mp4 = c.get(vod.movie_url("mp4", base=vod.data_plane), headers={"Range": "bytes=0-9"})
        assert mp4.status_code == 429

        segment = next(line for line in first.text.splitlines() if line.startswith("/vodhls/"))
        ok = c.get(vod.data_plane + segment)
        assert ok.status_code == 200 and ok.headers["content-type"] == "video/mp2t"
        assert ok.content[0] == 0x47 and len(ok.content) % 188 == 0
        token = segment.split("/")[2]
        tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        assert c.get(f"{vod.data_plane}/vodhls/{tampered}/0.ts").status_code == 403
        # A movie's token is not a live segment token, whatever ids it carries.
        assert c.get(f"{vod.data_plane}/hls/{token}/0.ts").status_code == 403
        assert c.get(f"{vod.data_plane}/vodhls/{token}/999.ts").status_code == 404

        # Ended by an administrator: its segments are refused from then on.
        session = next(s for s in vod.engine.sessions.all() if s.user_agent == "player-a")
        with vod.admin() as admin:
            assert admin.delete(f"/api/v1/live/sessions/{session.id}").status_code == 204
        assert c.get(vod.data_plane + segment).status_code == 403


def test_a_play_paused_past_the_idle_timeout_resumes_and_the_index_is_built_once(
    vod: VodWorld, bframes_mp4: Path
) -> None:
    _add_movie(vod, bframes_mp4, "bframes")
    engine = vod.engine
    engine.sessions.hls_timeout = 1.0
    url = vod.movie_url("bframes", base=vod.data_plane, ext="m3u8")
    with httpx.Client(timeout=60) as c:
        listed = c.get(url).text
        segment = next(line for line in listed.splitlines() if line.startswith("/vodhls/"))
        (session,) = engine.sessions.all()
        deadline = time.monotonic() + 10
        while not session.ended and time.monotonic() < deadline:
            time.sleep(0.2)
        assert session.end_reason.startswith("idle")
        r = c.get(vod.data_plane + segment)
        assert r.status_code == 200
        (resumed,) = engine.sessions.all()
        assert resumed.output == "movie-hls" and resumed.id != session.id
        assert c.get(url).status_code == 200
    indexes = engine.vod_hls_indexes
    assert indexes.builds == 1
    cached = indexes.cache_file((vod.media_folder / bframes_mp4.name).resolve())
    assert cached.is_file() and '"keyframes"' in cached.read_text()


def test_a_file_that_cannot_be_hls_is_refused_with_a_reason(vod: VodWorld) -> None:
    with httpx.Client(timeout=60) as c:
        r = c.get(vod.movie_url("broken", base=vod.data_plane, ext="m3u8"))
    assert r.status_code == 415
    assert r.text.startswith("NOT_PLAYABLE_AS_HLS: ") and str(vod.media_folder) not in r.text
    assert not vod.engine.sessions.all()


def test_an_episode_plays_as_hls_with_both_audio_tracks(vod: VodWorld) -> None:
    ep = vod.episodes["e2"]
    url = f"{vod.server.base_url}/series/{vod.username}/{vod.password}/{ep['id']}.m3u8"
    run = _ffmpeg("-i", url, "-map", "0", "-f", "null", "-")
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(re.findall(r"Stream #0:\d+.*: Audio", run.stderr.split("Output")[0])) == 2
    frames = re.findall(r"frame=\s*(\d+)", run.stderr)
    assert frames and int(frames[-1]) == 200, run.stderr[-1000:]
