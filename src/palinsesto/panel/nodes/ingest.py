"""Where a creator publishes a push channel when its tenant's channels run on nodes: the
node the channel is placed on (push channels are pinned to one node: its other nodes
pull the feed from that one) and that node's address for the channel's kind of push.

Only what works is given: the RTMP address for a channel with a ``push_rtmp`` source on
a node that registered RTMP ingest, the SRT address for a ``push_srt`` channel whose
listener that node reports in its heartbeats (its port is the node's; the passphrase is
the channel's stream key). Anything else is None, with the reason in ``note``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from palinsesto.panel.nodes.control import NodeControl
from palinsesto.protocol.sources import SourceKind


@dataclass(frozen=True, slots=True)
class NodeIngest:
    node_id: int | None
    rtmp_url: str | None
    srt_url: str | None
    note: str


def push_kinds(sources: Iterable[Any]) -> set[str]:
    return {str(s.get("kind", "")) for s in sources if isinstance(s, dict)}


async def node_ingest(
    control: NodeControl, tenant_id: int, channel_id: int, sources: Iterable[Any]
) -> NodeIngest:
    kinds = push_kinds(sources)
    rtmp_push, srt_push = SourceKind.push_rtmp.value in kinds, SourceKind.push_srt.value in kinds
    if not rtmp_push and not srt_push:
        return NodeIngest(
            None, None, None, "This channel has no push source (RTMP or SRT): add one to "
            "publish to it.",
        )  # fmt: skip
    node = await control.ingest_node(tenant_id, channel_id)
    if node is None:
        return NodeIngest(
            None, None, None, "No node carries this channel yet: it is placed on a node of "
            "the tenant once one is online.",
        )  # fmt: skip
    rtmp = node.rtmp_url if rtmp_push and node.rtmp_url else None
    srt = node.srt_ingest.get(channel_id) if srt_push else None
    where = f"Node {node.node_id}"
    if rtmp is None and srt is None:
        what = "RTMP ingest" if rtmp_push else "SRT listener for it"
        return NodeIngest(node.node_id, None, None, f"{where} carries this channel but has "
                          f"no {what} yet.")  # fmt: skip
    notes = []
    if rtmp is not None:
        notes.append("in OBS, Settings → Stream → Service: Custom; Server: the RTMP URL; "
                     "Stream key: the channel's")  # fmt: skip
    if srt is not None:
        notes.append("SRT: call the SRT URL with the channel's stream key as passphrase")
    return NodeIngest(node.node_id, rtmp, srt, f"{where}: " + "; ".join(notes) + ".")
