"""A remote node's assignments: edge pulls let through to their origin, and only there."""

from __future__ import annotations

from pathlib import Path

import pytest

from palinsesto.config import load_settings
from palinsesto.node.remote import RemoteNode
from palinsesto.node.source_policy import SourceRefused
from palinsesto.protocol.channels import ChannelInfo
from palinsesto.protocol.messages import Assignment, NodeState, PanelReply
from palinsesto.protocol.play_tokens import PlayKind, PlayTokens, SigningKey
from palinsesto.protocol.sources import SourceSpec

KEY = SigningKey(3, b"k" * 32)


def channel(channel_id: int, **changes: object) -> ChannelInfo:
    values: dict[str, object] = {
        "id": channel_id,
        "tenant_id": 1,
        "name": "c",
        "sources": ({"kind": "http_ts", "url": "http://127.0.0.1:9/feed.ts"},),
        "on_demand": True,
        "transcode_profile": "copy",
        "enabled": True,
        "stream_key": f"key-{channel_id}",
    }
    values.update(changes)
    return ChannelInfo(**values)  # type: ignore[arg-type]


def reply(*assignments: Assignment, state: NodeState = NodeState.online) -> PanelReply:
    return PanelReply(4, state, 1.0, 6.0, (KEY,), assignments)


async def test_an_edge_pulls_its_origin_with_a_relay_token_and_only_there(
    tmp_path: Path,
) -> None:
    node = RemoteNode(load_settings({"PALINSESTO_DATA_DIR": str(tmp_path)}))
    origin = "http://127.0.0.1:18001"
    await node.apply(reply(Assignment(channel(7), origin_url=origin), Assignment(channel(8))))
    assert node.accepting and node.node_id == 4
    spec, problems = node.spec_for(node.run_info(node.assignments[7]))
    assert problems == [] and len(spec.sources) == 1
    relay = spec.sources[0]
    assert relay.url.startswith(f"{origin}/relay/") and relay.url.endswith(".ts")
    token = relay.url.removeprefix(f"{origin}/relay/").removesuffix(".ts")
    grant = PlayTokens([KEY]).verify(token, 0)
    assert grant.kind is PlayKind.relay and grant.channel_id == 7
    # The origin's address and port pass the policy; the same host on another port does not
    # (channel 8's own loopback source stays refused).
    node.policy.admit(1, SourceSpec.from_json({"kind": "http_ts", "url": f"{origin}/x.ts"}))
    with pytest.raises(SourceRefused):
        node.policy.admit(1, SourceSpec.from_json(dict(channel(8).sources[0])))
    _, refused = node.spec_for(node.run_info(node.assignments[8]))
    assert refused and "refused" in refused[0]
    # The edge assignment gone: the allowance goes with it.
    await node.apply(reply(Assignment(channel(8))))
    with pytest.raises(SourceRefused):
        node.policy.admit(1, SourceSpec.from_json({"kind": "http_ts", "url": f"{origin}/x.ts"}))


async def test_stream_keys_and_state_come_from_the_replies(tmp_path: Path) -> None:
    node = RemoteNode(load_settings({"PALINSESTO_DATA_DIR": str(tmp_path)}))
    assert not node.accepting and node.refusal == "NODE_NOT_REGISTERED"
    await node.apply(reply(Assignment(channel(7)), Assignment(channel(9, enabled=False))))
    found = await node.channel_for_key("key-7")
    assert found is not None and found.id == 7
    assert await node.channel_for_key("key-9") is None  # disabled
    assert await node.channel_for_key("key-8") is None  # not here
    await node.apply(reply(Assignment(channel(7)), state=NodeState.draining))
    assert not node.accepting and node.refusal == "NODE_DRAINING"
    always = node.run_info(Assignment(channel(7), always_on=True))
    assert always.on_demand is False


async def test_a_changed_assignment_loses_its_runner_and_a_gone_one_its_viewers(
    tmp_path: Path,
) -> None:
    node = RemoteNode(load_settings({"PALINSESTO_DATA_DIR": str(tmp_path)}))
    await node.apply(reply(Assignment(channel(7)), Assignment(channel(8))))
    seven = node.runner_of(node.assignments[7])
    eight = node.runner_of(node.assignments[8])
    viewer = node.sessions.open(70, 1, 11, 7, PlayKind.hls, 2_000_000_000)
    other = node.sessions.open(80, 1, 12, 8, PlayKind.hls, 2_000_000_000)
    # Channel 7 renamed, channel 8 no longer here.
    await node.apply(reply(Assignment(channel(7, name="renamed"))))
    assert node.runners.get(7) is not seven and 8 not in node.runners
    assert node.runner_of(node.assignments[7]) is not seven
    assert eight.state.value == "idle"
    assert node.sessions.get(70) is viewer  # its channel runs on, with a new runner
    assert node.sessions.get(80) is None and other.ended
    ended = node.sessions.snapshot().ended
    assert [(e.session_id, e.reason) for e in ended] == [(80, "channel no longer on this node")]
