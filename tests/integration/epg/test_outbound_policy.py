"""EPG source URLs under the outbound policy, attacked through the admin API.

A tenant owner names the URL; the server fetches it. Only the stand-in "internet" (one
allowed loopback port) may be reached: other loopback ports, the panel itself, private and
metadata addresses and redirects to them are refused before any connection, with one
message whether or not something listens there.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from palinsesto.outbound import REFUSED
from support.admin_api import created, make_tenant
from support.server import RunningServer, make_settings, run_server
from support.stand_ins import StandIn, closed_port, stand_in
from support.xmltv_docs import GuideSpec, xmltv_bytes


@pytest.fixture
def internet() -> Iterator[StandIn]:
    guide = gzip.compress(xmltv_bytes(GuideSpec(channels=2, days=1, start=int(time.time()))))
    with stand_in({"/guide.xml.gz": (200, {}, guide)}) as server:
        yield server


@pytest.fixture
def panel(database_url: str, tmp_path: Path, internet: StandIn) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path, database_url, outbound_allow_networks=f"127.0.0.1:{internet.port}"
    )
    with run_server(settings) as running:
        yield running


def _import(c: httpx.Client, name: str, url: str) -> dict[str, object]:
    source = created(c.post("/api/v1/epg/sources", json={"name": name, "url": url}))
    run = c.post(f"/api/v1/epg/sources/{source['id']}/import", params={"wait": "true"})
    assert run.status_code == 200, run.text
    return run.json()


def test_only_allowed_addresses_are_fetched_and_refusals_reveal_nothing(
    panel: RunningServer, internet: StandIn
) -> None:
    owner = make_tenant(panel, "acme")
    with stand_in() as private_service, owner.client() as c:
        ok = _import(c, "Allowed", f"{internet.base}/guide.xml.gz")
        assert ok["status"] == "succeeded", ok
        assert internet.seen == ["/guide.xml.gz"]

        # A loopback port where something listens, one where nothing does, the panel's own
        # admin API: the same refusal, and the listening service is never contacted.
        targets = {
            "open port": f"http://127.0.0.1:{private_service.port}/status",
            "closed port": f"http://127.0.0.1:{closed_port()}/status",
            "panel API": f"{panel.base_url}/api/v1/tenants",
            "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "private": "http://10.0.0.1/guide.xml",
            "mapped v6": f"http://[::ffff:127.0.0.1]:{private_service.port}/status",
            "localhost": f"http://localhost:{private_service.port}/status",
        }
        errors = {}
        for label, url in targets.items():
            started = time.monotonic()
            run = _import(c, label, url)
            assert run["status"] == "failed", (label, run)
            assert run["bytes_read"] == 0
            assert time.monotonic() - started < 5  # refused, not a connection attempt timing out
            errors[label] = str(run["error"]).replace(url, "<url>")
        assert set(errors.values()) == {f"cannot download <url>: {REFUSED}"}, errors
        assert private_service.seen == []


def test_a_redirect_to_a_denied_address_is_refused(panel: RunningServer, internet: StandIn) -> None:
    owner = make_tenant(panel, "acme")
    with stand_in() as private_service, owner.client() as c:
        inner = f"http://127.0.0.1:{private_service.port}/secret"
        metadata = "http://169.254.169.254/latest/meta-data/"
        hops = {
            "/to-private": (302, {"Location": inner}, b""),
            "/to-metadata": (307, {"Location": metadata}, b""),
            "/hop": (301, {"Location": "/to-private"}, b""),  # allowed hop, then denied
            "/moved": (302, {"Location": "/guide.xml.gz"}, b""),  # allowed all the way
        }
        internet.routes.update(hops)
        moved = _import(c, "Moved", f"{internet.base}/moved")
        assert moved["status"] == "succeeded", moved
        for path in ("/to-private", "/to-metadata", "/hop"):
            run = _import(c, path, f"{internet.base}{path}")
            assert run["status"] == "failed"
            assert REFUSED in str(run["error"]) and "redirected to" in str(run["error"])
        assert private_service.seen == []
        assert internet.seen.count("/to-private") == 2  # asked directly and after /hop
