"""What a node relaying a remote movie or episode is told (node API ``vod-sources``): the
item's source URL and the panel's outbound policy, for an item of the node's own tenant
that is relayed (``delivery = proxy``). Viewers never see this URL: their play token is
signed over it and the node asks for it here (node/vod_proxy_plays.py)."""

from __future__ import annotations

from palinsesto.catalog.models import RemoteDelivery
from palinsesto.config import Settings
from palinsesto.node.vod_files import RemoteUrl, VodSourceRefused, classify_source
from palinsesto.panel.playback.stream_paths import VodKind
from palinsesto.panel.playback.vod_access import VodAccess, VodItem
from palinsesto.protocol.messages import VodSource


def relayed_source(
    settings: Settings,
    access: VodAccess,
    tenant_id: int,
    kind: VodKind,
    item_id: int,
    *,
    cached_only: bool = False,
) -> VodSource | None:
    """The source of a relayed item of ``tenant_id``; None when there is none (another
    tenant's, disabled, a local file, or delivered by redirect). Raises NotCached with
    ``cached_only`` when the item must be read from the database."""
    item: VodItem | None = access.item(tenant_id, kind, item_id, cached_only=cached_only)
    if item is None or not item.enabled or item.delivery is not RemoteDelivery.proxy:
        return None
    try:
        source = classify_source(settings.effective_media_root, tenant_id, item.source_url)
    except VodSourceRefused:
        return None
    if not isinstance(source, RemoteUrl):
        return None
    denied = ",".join(filter(None, (settings.outbound_denied_hosts, settings.live_denied_hosts)))
    return VodSource(
        source.url, settings.outbound_allow_networks, denied, settings.live_allow_private_sources
    )
