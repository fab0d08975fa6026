"""Settings: environment over file over defaults, validation naming the bad key, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from palinsesto.config import ConfigError, ensure_secret_key, load_settings


def test_environment_overrides_file(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('listen = "0.0.0.0:9000"\ntimezone = "Europe/Rome"\n')
    env = {"PALINSESTO_CONFIG": str(cfg), "PALINSESTO_LISTEN": "127.0.0.1:9001"}
    settings = load_settings(env)
    assert settings.listen == "127.0.0.1:9001"
    assert settings.port == 9001
    assert settings.timezone == "Europe/Rome"


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"PALINSESTO_LISTEN": "nonsense"}, "PALINSESTO_LISTEN"),
        ({"PALINSESTO_TOKEN_TTL_SECONDS": "soon"}, "PALINSESTO_TOKEN_TTL_SECONDS"),
        ({"PALINSESTO_DATABASE_URL": "mysql://x"}, "PALINSESTO_DATABASE_URL"),
        ({"PALINSESTO_SIGNUP": "maybe"}, "PALINSESTO_SIGNUP"),
        ({"PALINSESTO_SIGNUP_PER_HOUR": "0"}, "PALINSESTO_SIGNUP_PER_HOUR"),
        ({"PALINSESTO_USAGE_SAMPLE_SECONDS": "-1"}, "USAGE_SAMPLE_SECONDS"),
        ({"PALINSESTO_GEOIP_DB": "/nonexistent/GeoLite2.mmdb"}, "PALINSESTO_GEOIP_DB"),
    ],
)
def test_bad_values_name_their_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(env)


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text("lisen = 1\n")
    with pytest.raises(ConfigError, match="lisen"):
        load_settings({"PALINSESTO_CONFIG": str(cfg)})


def test_masked_hides_secrets_and_url_passwords() -> None:
    settings = load_settings(
        {
            "PALINSESTO_DATABASE_URL": "postgresql://app:hunter2@db/p",
            "PALINSESTO_ADMIN_PASSWORD": "topsecret",
            "PALINSESTO_SECRET_KEY": "k" * 40,
            "PALINSESTO_NODE_TOKEN": "node-token-" + "n" * 30,
        }
    )
    shown = "\n".join(f"{k}={v}" for k, v in settings.masked().items())
    assert "hunter2" not in shown and "topsecret" not in shown and "k" * 40 not in shown
    assert "n" * 30 not in shown and settings.masked()["node_token"] == "********"
    assert "postgresql://app:********@db/p" in shown


def test_node_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="NODE_PANEL_URL"):
        load_settings({"PALINSESTO_NODE_PANEL_URL": "panel.example.com"})
    with pytest.raises(ConfigError, match="NODE_PUBLIC_URL"):
        load_settings({"PALINSESTO_NODE_PUBLIC_URL": "ftp://node.example.com"})
    with pytest.raises(ConfigError, match="NODE_EGRESS_MBPS"):
        load_settings({"PALINSESTO_NODE_EGRESS_MBPS": "0"})
    node = load_settings({"PALINSESTO_NODE_MAX_CHANNELS": "12"})
    assert node.node_max_channels == 12 and node.node_egress_mbps == 1000


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings({"PALINSESTO_DATA_DIR": str(tmp_path)})
    first = ensure_secret_key(settings).secret_key
    again = ensure_secret_key(settings).secret_key
    assert first == again and len(first) >= 40
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_rtmp_port_told_to_apps_follows_the_ingest_settings() -> None:
    from palinsesto.panel.playback.xtream import ServerIdentity, server_info

    listen_only = load_settings({"PALINSESTO_RTMP_LISTEN": "0.0.0.0:8880"})
    assert listen_only.rtmp_public_port == 8880
    public = load_settings(
        {
            "PALINSESTO_RTMP_LISTEN": "0.0.0.0:8880",
            "PALINSESTO_RTMP_PUBLIC_URL": "rtmp://live.example.net:25462/live",
        }
    )
    assert public.rtmp_public_port == 25462
    server = ServerIdentity.from_public_url("http://tv.example.net:8080", "UTC", 25462)
    info = server_info(server, now=1_750_000_000)
    assert info["rtmp_port"] == "25462" and info["port"] == "8080"  # str(int), §3.2


def test_readme_lists_every_setting() -> None:
    # The README's configuration table is the settings' documentation: a new field of
    # Settings without its row (or a row for a setting that is gone) fails here.
    import dataclasses
    import re

    from palinsesto.config import Settings

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    # The one table under "Configuration": from its header row to the first blank line.
    table = readme.split("| variable | default | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = {
        name.lower() for name in re.findall(r"^\| `PALINSESTO_([A-Z0-9_]+)`", table, re.M)
    }
    assert len(documented) == table.count("\n| `PALINSESTO_"), "a setting has two rows"
    fields = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    assert sorted(fields - documented) == [], "settings without a README row"
    assert sorted(documented - fields - {"config"}) == [], "README rows for no setting"


@pytest.mark.parametrize(
    ("env", "live"),
    [
        ({}, "127.0.0.1:8001"),
        ({"PALINSESTO_LISTEN": "0.0.0.0:9000"}, "0.0.0.0:8001"),
        ({"PALINSESTO_LISTEN": "[::]:9000"}, "[::]:8001"),
        ({"PALINSESTO_LISTEN": "0.0.0.0:0"}, "0.0.0.0:0"),
        (
            {"PALINSESTO_LISTEN": "0.0.0.0:9000", "PALINSESTO_LIVE_LISTEN": "127.0.0.1:9101"},
            "127.0.0.1:9101",
        ),
    ],
)
def test_live_listener_follows_the_panel_host_unless_set(env: dict[str, str], live: str) -> None:
    settings = load_settings(env)
    assert settings.effective_live_listen == live
    assert settings.masked()["live_listen"] == live


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVE_LISTEN", "8001"),
        ("LIVE_LISTEN", "::1:8001"),
        ("RTMP_LISTEN", "host:port"),
        ("LIVE_PUBLIC_URL", "tv.example.com:8001"),
        ("PUBLIC_URL", "ftp://tv.example.com"),
    ],
)
def test_bad_listen_and_public_addresses_name_their_key(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"PALINSESTO_{name}"):
        load_settings({f"PALINSESTO_{name}": value})


def test_rtmp_ingest_can_be_turned_off_from_the_environment() -> None:
    settings = load_settings({"PALINSESTO_RTMP_LISTEN": "off"})
    assert settings.rtmp_listen == "" and settings.rtmp_public_port == 1935
