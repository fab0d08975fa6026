"""A failing EPG source is retried with an exponential back-off, not at every check, and its
status says so (failures in a row, last error, next attempt), on SQLite and PostgreSQL. The
provider is a real local HTTP server answering 500; the periodic job runs every second."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support.admin_api import make_tenant
from support.server import RunningServer, make_settings, run_server
from support.xmltv_docs import GuideSpec, xmltv_bytes

CHECK_SECONDS = 1
WATCH_SECONDS = 12.0


class Provider:
    """An XMLTV provider on 127.0.0.1:0 that fails with 500 until told to serve a guide."""

    def __init__(self) -> None:
        self.hits: list[float] = []
        self.guide: bytes | None = None
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                provider.hits.append(time.monotonic())
                body = provider.guide or b"upstream broken"
                self.send_response(200 if provider.guide else 500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/guide.xml"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fast_server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    # The local provider stands in for one on the internet: loopback allowed explicitly.
    settings = make_settings(
        tmp_path,
        database_url,
        epg_check_seconds=CHECK_SECONDS,
        outbound_allow_networks="127.0.0.1/32",
    )
    with run_server(settings) as running:
        yield running


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.close()


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_failing_source_backs_off_exponentially_and_reports_it(
    fast_server: RunningServer, provider: Provider
) -> None:
    world = make_tenant(fast_server, "backoff")
    with world.client() as c:
        r = c.post("/api/v1/epg/sources", json={"name": "Broken", "url": provider.url})
        assert r.status_code == 201, r.text
        source = r.json()
        assert source["consecutive_failures"] == 0 and source["last_error"] == ""
        assert source["next_attempt_at"] is not None  # never read: due at the next check

    time.sleep(WATCH_SECONDS)
    hits = list(provider.hits)
    # Every second without back-off (~12); with it at about 1, 2, 4, 8 seconds apart.
    assert 2 <= len(hits) <= 5, hits
    gaps = [b - a for a, b in zip(hits, hits[1:], strict=False)]
    for i, gap in enumerate(gaps):
        assert gap >= 0.9 * CHECK_SECONDS * 2**i, gaps

    with world.client() as c:
        for _ in range(20):  # read a state that no import is changing meanwhile
            runs = c.get("/api/v1/epg/runs", params={"source_id": source["id"]}).json()["items"]
            status = c.get(f"/api/v1/epg/sources/{source['id']}").json()
            again = c.get("/api/v1/epg/runs", params={"source_id": source["id"]}).json()["items"]
            if runs == again and all(r["status"] == "failed" for r in runs):
                break
            time.sleep(0.2)
    failures = len(runs)
    assert failures >= 2 and status["consecutive_failures"] == failures, (status, runs)
    assert "HTTP 500" in status["last_error"]
    latest = max(runs, key=lambda r: r["id"])
    delay = CHECK_SECONDS * 2 ** (failures - 1)
    expected = _when(latest["finished_at"]) + timedelta(seconds=delay)
    assert abs(_when(status["next_attempt_at"]) - expected) < timedelta(seconds=1), status

    # The provider is mended: one successful import clears the failures.
    spec = GuideSpec(channels=1, days=1, start=int(time.time()) // 3600 * 3600)
    provider.guide = xmltv_bytes(spec)
    with world.client() as c:
        r = c.post(f"/api/v1/epg/sources/{source['id']}/import", params={"wait": "true"})
        while r.status_code == 409:  # the job's own attempt is under way
            time.sleep(0.2)
            r = c.post(f"/api/v1/epg/sources/{source['id']}/import", params={"wait": "true"})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        status = c.get(f"/api/v1/epg/sources/{source['id']}").json()
    assert status["consecutive_failures"] == 0 and status["last_error"] == ""
    refreshed = _when(status["last_import_at"]) + timedelta(hours=24)
    assert _when(status["next_attempt_at"]) == refreshed
