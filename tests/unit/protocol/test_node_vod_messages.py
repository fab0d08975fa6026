"""What a node relaying a remote movie is told (its source and the panel's outbound
policy), what its tokens are signed over, and what heartbeats say of
archive sizes and SRT listeners: round trips, and malformed input refused."""

from __future__ import annotations

import ipaddress
import secrets
import time

import pytest

from palinsesto.cluster.node_leases import NodeLease
from palinsesto.outbound.policy import OutboundRefused, both, policy_from_text
from palinsesto.panel.nodes.archives import ClusterArchives
from palinsesto.protocol.messages import ArchiveSpans, Heartbeat, NodeState, VodSource
from palinsesto.protocol.play_tokens import (
    PlayKind,
    PlayTokens,
    SigningKey,
    TokenRefused,
    relayed_subject,
    source_tag,
)


def test_a_vod_source_round_trips_and_refuses_what_is_not_an_http_url() -> None:
    source = VodSource("https://cdn.example.net/f.mp4?k=1", "10.0.0.0/8", "evil.test", False)
    assert VodSource.from_json(source.to_json()) == source
    for bad in ({"url": "file:///etc/passwd"}, {"url": 5}, {"url": "http://x", "outbound": 3}):
        with pytest.raises(ValueError):
            VodSource.from_json(bad)


def test_a_relayed_token_verifies_only_for_its_kind_and_source_tag() -> None:
    """The node checks a relayed movie's token before asking its panel anything: it is
    signed over the item's kind and a tag of the source, which the URL carries."""
    tokens = PlayTokens([SigningKey(2, secrets.token_bytes(32))])
    tag = source_tag("https://cdn.example.net/secret.mp4?key=1")
    assert len(tag) == 12 and int(tag, 16) >= 0
    assert tag != source_tag("https://cdn.example.net/secret.mp4?key=2")
    token = tokens.issue(
        tenant_id=1, line_id=2, channel_id=77, session_id=9, kind=PlayKind.vod_proxy,
        expires=int(time.time()) + 60, subject=relayed_subject("movie", tag),
    )  # fmt: skip
    grant = tokens.verify(token, time.time(), subject=relayed_subject("movie", tag))
    assert (grant.channel_id, grant.session_id) == (77, 9)
    for kind, other in (("series", tag), ("movie", source_tag("https://elsewhere.example/"))):
        with pytest.raises(TokenRefused):
            tokens.verify(token, time.time(), subject=relayed_subject(kind, other))


def test_a_relay_goes_only_where_both_policies_allow() -> None:
    panel = policy_from_text("10.1.0.0/16, 127.0.0.1:8080", "blocked.test")
    node = policy_from_text("127.0.0.1:8080, 192.168.0.0/16")
    relay = both(panel, node)
    local = ipaddress.ip_address("127.0.0.1")
    assert relay.permits(local, 8080)  # both allow it
    assert not relay.permits(ipaddress.ip_address("10.1.2.3"), 80)  # the panel's only
    assert not relay.permits(ipaddress.ip_address("192.168.1.1"), 80)  # the node's only
    assert relay.permits(ipaddress.ip_address("8.8.8.8"), 443)  # public
    with pytest.raises(OutboundRefused):
        relay.addresses("blocked.test", 80)
    with pytest.raises(OutboundRefused):
        both(node, panel).addresses("blocked.test", 80)  # whichever side denies a name


def test_heartbeats_carry_archive_sizes_and_srt_listeners_and_leases_keep_them() -> None:
    beat = Heartbeat(
        1, 0.0, 0.0,
        archives=(ArchiveSpans(9, ((100.0, 160.0),), 123_456),),
        srt_ingest=((12, "srt://198.51.100.7:10012"),),
    )  # fmt: skip
    back = Heartbeat.from_json(beat.to_json())
    assert back.archives == beat.archives and back.srt_ingest == beat.srt_ingest
    old = Heartbeat.from_json({"viewers": 0, "egress_mbps": 0, "cpu_percent": 0})
    assert old.srt_ingest == () and old.archives == ()
    for bad in ({"srt_ingest": {"x": "srt://a:1"}}, {"srt_ingest": {"3": "rtmp://a/live"}},
                {"srt_ingest": ["srt://a:1"]}):  # fmt: skip
        with pytest.raises(ValueError):
            Heartbeat.from_json({**beat.to_json(), **bad})
    lease = NodeLease(
        4, 1, NodeState.online, "http://n4", archives={9: [(100.0, 160.0)]},
        archive_bytes={9: 123_456}, srt_ingest={12: "srt://198.51.100.7:10012"},
    )  # fmt: skip
    again = NodeLease.from_json(lease.to_json())
    assert again.archive_bytes == {9: 123_456} and again.srt_ingest == lease.srt_ingest
    archives = ClusterArchives()
    archives.update([again])
    [held] = archives.by_node((1, 9))
    assert (held.node_id, held.bytes, held.stretches) == (4, 123_456, [(100.0, 160.0)])
    assert archives.channels_of(1) == [9] and archives.channels_of(2) == []
