"""docker-compose.yml: the panels believe X-Forwarded-For from their nginx, and only from it.

Docker cannot run where the suite runs, so this reads the file as Compose would (YAML
anchors merged) and asks the panel's own proxy logic about the addresses it names.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import yaml

from palinsesto.config import load_settings
from palinsesto.proxies import TrustedProxies

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_panels_trust_the_proxys_fixed_address_and_nothing_else() -> None:
    compose = _compose()
    (subnet,) = [c["subnet"] for c in compose["networks"]["default"]["ipam"]["config"]]
    proxy_ip = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    assert ipaddress.ip_address(proxy_ip) in ipaddress.ip_network(subnet)
    for name in ("panel1", "panel2"):
        env = compose["services"][name]["environment"]
        settings = load_settings({"PALINSESTO_TRUSTED_PROXIES": env["PALINSESTO_TRUSTED_PROXIES"]})
        proxies = TrustedProxies.parse(", ".join(settings.trusted_proxy_list))
        # nginx appends the viewer's address: that is the client the panel sees.
        assert proxies.client_address(proxy_ip, "203.0.113.9") == "203.0.113.9", name
        # Another container (a node, say) cannot speak for viewers.
        other = str(next(h for h in ipaddress.ip_network(subnet).hosts() if str(h) != proxy_ip))
        assert proxies.client_address(other, "203.0.113.9") == other, name


def test_the_proxy_appends_the_address_it_saw() -> None:
    conf = (ROOT / "deploy" / "nginx-panels.conf").read_text()
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for;", conf)
    volumes = _compose()["services"]["proxy"]["volumes"]
    assert any(v.startswith("./deploy/nginx-panels.conf:") for v in volumes)
