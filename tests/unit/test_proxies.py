"""Whose address a request comes from, behind trusted and untrusted peers (proxies.py)."""

from __future__ import annotations

import pytest

from palinsesto.config import ConfigError, load_settings
from palinsesto.proxies import TrustedProxies


def test_forwarded_for_is_ignored_unless_the_peer_is_trusted() -> None:
    none = TrustedProxies.parse("")
    assert none.client_address("127.0.0.1", "203.0.113.9") == "127.0.0.1"
    some = TrustedProxies.parse("10.0.0.0/8, ::1")
    assert some.client_address("192.0.2.1", "203.0.113.9") == "192.0.2.1"
    assert some.client_address("10.1.2.3", "203.0.113.9") == "203.0.113.9"
    assert some.client_address("::1", "203.0.113.9") == "203.0.113.9"
    assert some.client_address("10.1.2.3", None) == "10.1.2.3"


def test_the_client_is_the_right_most_untrusted_hop() -> None:
    proxies = TrustedProxies.parse("10.0.0.0/8")
    # A client-written first hop cannot pick its address past the proxies' own entries.
    assert proxies.client_address("10.0.0.1", "1.1.1.1, 198.51.100.7, 10.0.0.2") == ("198.51.100.7")
    assert proxies.client_address("10.0.0.1", "10.0.0.3, 10.0.0.2") == "10.0.0.3"


def test_a_bad_entry_is_named_in_the_configuration_error() -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES.*nonsense"):
        load_settings({"PALINSESTO_TRUSTED_PROXIES": "10.0.0.1, nonsense"})
    settings = load_settings({"PALINSESTO_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"})
    assert settings.trusted_proxy_list == ["10.0.0.1", "192.168.0.0/16"]
