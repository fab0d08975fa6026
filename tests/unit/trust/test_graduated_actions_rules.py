"""The graduated actions without I/O: which leave a restriction to lift, what a statement
of reasons says of each, and how a line's block reads at admission and in its lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from palinsesto.panel.playback.catalog_cache import without_blocked
from palinsesto.panel.playback.lines import ItemBlocked, LineView
from palinsesto.panel.playback.refusals import refusal_status
from palinsesto.trust.counter_notices import restrictable
from palinsesto.trust.notices import (
    ActionKind,
    Decision,
    NoticeRegime,
    Target,
    TargetKind,
    statement_of_reasons,
)


def test_the_actions_go_lightest_first_and_restrictions_can_be_lifted() -> None:
    assert [k.value for k in ActionKind] == [
        "end_sessions",
        "block_item",
        "suspend_line",
        "disable_item",
        "suspend_tenant",
        "reject",
    ]
    lasting = {k for k in ActionKind if restrictable(k)}
    assert lasting == {
        ActionKind.block_item,
        ActionKind.suspend_line,
        ActionKind.disable_item,
        ActionKind.suspend_tenant,
    }


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        (ActionKind.block_item, "the subscription (line) can no longer access the content"),
        (ActionKind.suspend_tenant, "the service distributing the content was suspended"),
    ],
)
def test_statements_describe_the_new_actions(kind: ActionKind, words: str) -> None:
    targets = [Target(TargetKind.line, "fan"), Target(TargetKind.series, "7")]
    decided = datetime(2026, 11, 29, 8, tzinfo=UTC)
    decision = Decision(kind, targets, "Restreamed.", decided_at=decided)
    statement = statement_of_reasons(3, NoticeRegime.dsa, decision)
    assert statement["restriction"]["description"] == words
    assert statement["restriction"]["duration"] == "until reviewed"
    assert statement["restriction"]["content"] == [
        {"kind": "line", "ref": "fan"},
        {"kind": "series", "ref": "7"},
    ]


def _line(blocked: frozenset[tuple[str, int]]) -> LineView:
    return LineView(1, 1, "fan", "pw", None, 0, 1, False, True, False, True, ("ts",),
                    frozenset(), frozenset(), (1,), blocked)  # fmt: skip


def test_a_blocked_item_is_refused_with_451_and_others_play() -> None:
    line = _line(frozenset({("channel", 5), ("series", 9)}))
    with pytest.raises(ItemBlocked) as refused:
        line.check_not_blocked("channel", 5)
    assert refused.value.code == "ITEM_BLOCKED"
    assert refusal_status(refused.value) == 451
    line.check_not_blocked("channel", 6)  # another item
    line.check_not_blocked("movie", 5)  # the same id of another kind
    _line(frozenset()).check_not_blocked("channel", 5)


@dataclass(frozen=True)
class _Item:
    id: int
    category_id: int | None


@dataclass(frozen=True)
class _Section:
    items: list[_Item]
    used_category_ids: frozenset[int]
    by_id: dict[int, _Item] = field(default_factory=dict)


def test_a_blocked_item_leaves_the_lines_section_and_its_empty_category() -> None:
    items = [_Item(1, 10), _Item(2, 20), _Item(3, 10)]
    section = _Section(items, frozenset({10, 20}), {i.id: i for i in items})
    kept = without_blocked("live", section, frozenset({("channel", 2), ("movie", 1)}))
    assert [i.id for i in kept.items] == [1, 3]
    assert kept.used_category_ids == frozenset({10})
    assert set(kept.by_id) == {1, 3}
    assert without_blocked("live", section, frozenset({("movie", 1)})) is section
