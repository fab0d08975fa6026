"""Where the panel's /live redirect points: configuration or this machine, never the client."""

from __future__ import annotations

import pytest

from palinsesto.config import load_settings
from palinsesto.panel.playback.live_routes import data_plane_base


@pytest.mark.parametrize(
    ("env", "arrived_at", "expected"),
    [
        # Nothing configured, loopback listeners: the data plane's own address.
        ({}, "127.0.0.1", "http://127.0.0.1:8001"),
        # Every interface bound: the local address the player's connection reached.
        ({"PALINSESTO_LISTEN": "0.0.0.0:8000"}, "192.0.2.10", "http://192.0.2.10:8001"),
        ({"PALINSESTO_LISTEN": "[::]:8000"}, "::ffff:192.0.2.10", "http://192.0.2.10:8001"),
        ({"PALINSESTO_LISTEN": "[::]:8000"}, "2001:db8::5", "http://[2001:db8::5]:8001"),
        ({"PALINSESTO_LISTEN": "0.0.0.0:8000"}, None, "http://127.0.0.1:8001"),
        # The data plane on one address while the panel binds all: that address.
        (
            {"PALINSESTO_LISTEN": "0.0.0.0:8000", "PALINSESTO_LIVE_LISTEN": "10.1.2.3:8001"},
            "192.0.2.10",
            "http://10.1.2.3:8001",
        ),
        # A public URL: its host, the data plane's port, plain http.
        (
            {"PALINSESTO_PUBLIC_URL": "https://tv.example.com"},
            "127.0.0.1",
            "http://tv.example.com:8001",
        ),
        # The data plane's own public URL wins.
        (
            {
                "PALINSESTO_PUBLIC_URL": "https://tv.example.com",
                "PALINSESTO_LIVE_PUBLIC_URL": "https://live.example.com/",
            },
            "127.0.0.1",
            "https://live.example.com",
        ),
    ],
)
def test_target(env: dict[str, str], arrived_at: str | None, expected: str) -> None:
    assert data_plane_base(load_settings(env), 8001, arrived_at) == expected
