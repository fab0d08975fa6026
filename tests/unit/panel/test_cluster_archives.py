"""What the nodes' heartbeats say their archives hold: the heartbeat carries it, the lease
keeps it, catch-up is offered and sent only where it is held."""

from __future__ import annotations

import pytest

from palinsesto.cluster.node_leases import NodeLease
from palinsesto.panel.nodes.archives import ClusterArchives, archive_node
from palinsesto.protocol.messages import ArchiveSpans, Heartbeat, NodeState


def _lease(node_id: int, state: NodeState, stretches: list[tuple[float, float]]) -> NodeLease:
    return NodeLease(node_id, 1, state, f"http://n{node_id}", archives={9: stretches})


def test_a_heartbeat_carries_archive_stretches_and_a_lease_keeps_them() -> None:
    beat = Heartbeat(1, 0.0, 0.0, archives=(ArchiveSpans(9, ((100.0, 160.5), (200.0, 260.0))),))
    back = Heartbeat.from_json(beat.to_json())
    assert back.archives == beat.archives
    lease = _lease(4, NodeState.online, list(back.archives[0].stretches))
    assert NodeLease.from_json(lease.to_json()).archives == {9: [(100.0, 160.5), (200.0, 260.0)]}
    with pytest.raises(ValueError, match="stretches"):
        Heartbeat.from_json({**beat.to_json(), "archives": [{"channel_id": 9, "stretches": [[1]]}]})
    with pytest.raises(ValueError):
        Heartbeat.from_json({**beat.to_json(), "archives": ["x"]})


def test_catch_up_goes_to_the_online_node_holding_most_of_the_window() -> None:
    leases = [
        _lease(1, NodeState.online, [(0.0, 50.0)]),
        _lease(2, NodeState.online, [(40.0, 200.0)]),
        _lease(3, NodeState.lost, [(0.0, 1000.0)]),
        _lease(5, NodeState.draining, [(0.0, 1000.0)]),
    ]
    assert archive_node(leases, 9, 30.0, 90.0) == 2
    assert archive_node(leases, 9, 0.0, 20.0) == 1
    assert archive_node(leases, 9, 500.0, 600.0) == 0  # only a lost and a draining node
    assert archive_node(leases, 8, 0.0, 20.0) == 0  # another channel


def test_the_player_api_view_ignores_lost_nodes() -> None:
    archives = ClusterArchives()
    archives.update([_lease(1, NodeState.online, [(0.0, 50.0)])])
    assert archives.recorded_any((1, 9)) and not archives.recorded_any((1, 8))
    assert archives.holds((1, 9), 10.0, 40.0)
    assert not archives.holds((1, 9), 10.0, 90.0)  # past what is recorded
    archives.update([_lease(1, NodeState.lost, [(0.0, 50.0)])])
    assert not archives.recorded_any((1, 9))
