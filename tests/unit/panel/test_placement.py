"""Placement of channels and viewers on a tenant's nodes (panel/placement.py)."""

from __future__ import annotations

import pytest

from palinsesto.panel.placement import (
    NodeView,
    NoNodeAvailable,
    Placement,
    least_loaded,
    node_for_viewer,
    place_pinned,
    repair,
)
from palinsesto.protocol.messages import NodeState

ON, DRAIN, LOST = NodeState.online, NodeState.draining, NodeState.lost


def nodes(*views: NodeView) -> dict[int, NodeView]:
    return {v.id: v for v in views}


def test_least_loaded_picks_the_emptiest_online_node_of_the_tenant() -> None:
    found = least_loaded(
        [
            NodeView(1, 1, ON, viewers=50, max_viewers=100),
            NodeView(2, 1, ON, viewers=10, max_viewers=100),
            NodeView(3, 2, ON, viewers=0, max_viewers=100),  # another tenant's
            NodeView(4, 1, DRAIN, viewers=0, max_viewers=100),
            NodeView(5, 1, LOST, viewers=0, max_viewers=100),
        ],
        1,
        need_room=True,
    )
    assert found is not None and found.id == 2


def test_a_tenant_without_online_nodes_gets_none() -> None:
    only_others = [NodeView(1, 2, ON), NodeView(2, 1, DRAIN)]
    assert least_loaded(only_others, 1, need_room=False) is None
    with pytest.raises(NoNodeAvailable):
        node_for_viewer(7, 1, nodes(*only_others), None)


def test_always_on_channels_spread_over_nodes_and_stay_put() -> None:
    view = nodes(NodeView(1, 1, ON), NodeView(2, 1, ON))
    first = place_pinned([(10, 1), (11, 1), (12, 1)], view, {})
    assert sorted(p.origin for p in first.values()) == [1, 1, 2]
    # Sticky: a node that became busier keeps its channels.
    busier = nodes(NodeView(1, 1, ON, viewers=900), NodeView(2, 1, ON))
    again = place_pinned([(10, 1), (11, 1), (12, 1)], busier, first)
    assert again == first


def test_a_lost_nodes_pinned_channel_moves_to_a_live_node() -> None:
    placed = {10: Placement(10, 1, origin=1)}
    view = nodes(NodeView(1, 1, LOST), NodeView(2, 1, ON))
    assert place_pinned([(10, 1)], view, placed)[10].origin == 2


def test_a_draining_node_keeps_its_channels_but_gets_no_new_one() -> None:
    placed = {10: Placement(10, 1, origin=1)}
    view = nodes(NodeView(1, 1, DRAIN), NodeView(2, 1, ON, viewers=999))
    result = place_pinned([(10, 1), (11, 1)], view, placed)
    assert result[10].origin == 1
    assert result[11].origin == 2


def test_pinned_channels_never_land_on_another_tenants_node() -> None:
    view = nodes(NodeView(1, 2, ON))
    assert place_pinned([(10, 1)], view, {}) == {}
    # A placement recorded on another tenant's node is not kept either.
    assert place_pinned([(10, 1)], view, {10: Placement(10, 1, origin=1)}) == {}


def test_first_play_places_an_on_demand_channel_on_the_least_loaded_node() -> None:
    view = nodes(NodeView(1, 1, ON, viewers=5), NodeView(2, 1, ON, viewers=1))
    node, placement = node_for_viewer(7, 1, view, None)
    assert node.id == 2 and placement == Placement(7, 1, origin=2)


def test_viewers_go_to_the_origin_while_it_has_room() -> None:
    view = nodes(NodeView(1, 1, ON, viewers=5), NodeView(2, 1, ON, viewers=0))
    node, placement = node_for_viewer(7, 1, view, Placement(7, 1, origin=1))
    assert node.id == 1 and placement == Placement(7, 1, origin=1)


def test_a_full_origin_gets_an_edge_on_another_node() -> None:
    view = nodes(
        NodeView(1, 1, ON, viewers=10, max_viewers=10),
        NodeView(2, 1, ON, viewers=3, max_viewers=10),
        NodeView(3, 1, ON, viewers=1, max_viewers=10),
    )
    node, placement = node_for_viewer(7, 1, view, Placement(7, 1, origin=1))
    assert node.id == 3
    assert placement == Placement(7, 1, origin=1, edges=(3,))
    # The next viewer goes to the existing edge while it has room.
    node, again = node_for_viewer(7, 1, view, placement)
    assert node.id == 3 and again == placement


def test_every_node_full_refuses() -> None:
    view = nodes(NodeView(1, 1, ON, viewers=1, max_viewers=1))
    with pytest.raises(NoNodeAvailable):
        node_for_viewer(7, 1, view, Placement(7, 1, origin=1))


def test_draining_origin_sends_new_viewers_to_an_edge() -> None:
    view = nodes(NodeView(1, 1, DRAIN), NodeView(2, 1, ON))
    node, placement = node_for_viewer(7, 1, view, Placement(7, 1, origin=1))
    assert node.id == 2 and placement.edges == (2,) and placement.origin == 1


def test_repair_promotes_an_edge_when_the_origin_is_lost() -> None:
    view = nodes(NodeView(1, 1, LOST), NodeView(2, 1, ON), NodeView(3, 1, ON))
    assert repair(Placement(7, 1, 1, (2, 3)), view) == Placement(7, 1, 2, (3,))
    assert repair(Placement(7, 1, 1), view) is None
    # A node now of another tenant (or unknown) is dropped as if lost.
    assert repair(Placement(7, 1, 4, (2,)), view) == Placement(7, 1, 2, ())


def test_a_viewer_is_never_sent_to_another_tenants_node() -> None:
    view = nodes(NodeView(1, 2, ON), NodeView(2, 1, ON))
    node, placement = node_for_viewer(7, 1, view, Placement(7, 1, origin=1))
    assert node.id == 2 and placement == Placement(7, 1, origin=2)
