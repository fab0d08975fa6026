"""What the server may reach when it fetches something a user named: addresses (the one
outbound policy, HTTP fetches under it, the proxy ffmpeg pulls through) and files (the
per-tenant media folders file sources are confined to).

Low in the layers: it imports only the standard library, httpcore and (for typing) config,
so epg/, catalog/ and media/ all use it.
"""

from palinsesto.outbound.http_fetch import Download, FetchFailed, FetchRefused, open_url
from palinsesto.outbound.policy import (
    REFUSED,
    AllowRuleError,
    OutboundPolicy,
    OutboundRefused,
    parse_allow_rules,
    policy_from_settings,
    policy_from_text,
)

__all__ = [
    "REFUSED",
    "AllowRuleError",
    "Download",
    "FetchFailed",
    "FetchRefused",
    "OutboundPolicy",
    "OutboundRefused",
    "open_url",
    "parse_allow_rules",
    "policy_from_settings",
    "policy_from_text",
]
