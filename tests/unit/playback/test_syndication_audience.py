"""A syndicated channel's viewer cap and the per-partner audience, on a session registry
with clocks the test moves (no sleeping)."""

from __future__ import annotations

import dataclasses

import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.panel.playback.admission import (
    SessionRegistry,
    SyndicationFull,
    SyndicationTotalFull,
)
from palinsesto.panel.playback.lines import LineView
from palinsesto.panel.playback.syndication_audience import SyndicationAudience

KICK = ConnectionPolicy.kick_oldest


def _line(line_id: int, tenant_id: int) -> LineView:
    return LineView(
        id=line_id, tenant_id=tenant_id, username=f"u{line_id}", password="p", exp_date=None,
        created_at=0, max_connections=0, is_trial=False, enabled=True, banned=False,
        tenant_active=True, allowed_outputs=("ts", "m3u8"), allowed_ips=frozenset(),
        allowed_user_agents=frozenset(), bouquet_ids=(1,),
    )  # fmt: skip


def test_the_cap_counts_one_partners_plays_of_one_syndication() -> None:
    registry = SessionRegistry()
    partner, other = _line(1, tenant_id=20), _line(2, tenant_id=30)
    first = registry.admit(partner, 7, "1.1.1.1", "tv", "ts", KICK, entry_id=70,
                           syndication=(3, 2))  # fmt: skip
    registry.admit(partner, 7, "1.1.1.1", "phone", "ts", KICK, entry_id=70, syndication=(3, 2))
    assert (first.channel_id, first.entry_id, first.syndication_id) == (7, 70, 3)
    with pytest.raises(SyndicationFull) as refused:
        registry.admit(partner, 7, "1.1.1.1", "tablet", "ts", KICK, syndication=(3, 2))
    assert refused.value.code == "SYNDICATION_MAX_VIEWERS"
    # Another partner's syndication of the same channel has its own count.
    registry.admit(other, 7, "2.2.2.2", "tv", "ts", KICK, entry_id=90, syndication=(4, 2))
    registry.end(first, "viewer left")
    registry.admit(partner, 7, "1.1.1.1", "tablet", "ts", KICK, syndication=(3, 2))
    assert registry.syndication_counts() == {3: 2, 4: 1}


def test_the_total_cap_counts_every_partners_plays_of_one_offer() -> None:
    registry = SessionRegistry()
    bravo, charlie = _line(1, tenant_id=20), _line(2, tenant_id=30)
    offer = (11, 2)  # offer 11 allows its partners two viewers together
    first = registry.admit(bravo, 7, "1.1.1.1", "tv", "ts", KICK, entry_id=70,
                           syndication=(3, None), offer=offer)  # fmt: skip
    registry.admit(charlie, 7, "2.2.2.2", "tv", "ts", KICK, entry_id=90,
                   syndication=(4, 5), offer=offer)  # fmt: skip
    assert registry.offer_count(11) == 2
    for line, syndication in ((bravo, (3, None)), (charlie, (4, 5))):
        with pytest.raises(SyndicationTotalFull) as refused:
            registry.admit(line, 7, "3.3.3.3", "phone", "ts", KICK,
                           syndication=syndication, offer=offer)  # fmt: skip
        assert refused.value.code == "SYNDICATION_TOTAL_VIEWERS"
    # Another offer of the same channel, and a reload of a running HLS play, are not new.
    registry.admit(bravo, 7, "1.1.1.1", "tv", "ts", KICK, syndication=(5, None), offer=(12, 1))
    hls = registry.admit(charlie, 7, "2.2.2.2", "tv", "hls", KICK, syndication=(4, 5))
    assert registry.admit(charlie, 7, "2.2.2.2", "tv", "hls", KICK, syndication=(4, 5)) is hls
    registry.end(first, "viewer left")
    assert registry.offer_count(11) == 1
    registry.admit(charlie, 7, "3.3.3.3", "phone", "ts", KICK, syndication=(4, 5), offer=offer)
    assert (registry.offer_count(11), registry.offer_count(12)) == (2, 1)


def test_audience_integrates_viewers_over_time_and_keeps_what_was_not_stored() -> None:
    registry = SessionRegistry()
    audience = SyndicationAudience(registry)
    partner = _line(1, tenant_id=20)
    audience.tick(1000.0)
    sessions = [
        registry.admit(partner, 7, "1.1.1.1", ua, "ts", KICK, syndication=(3, None))
        for ua in ("tv", "phone", "tablet")
    ]
    audience.tick(1001.0)  # three viewers from now on
    registry.end(sessions[0], "viewer left")
    audience.tick(1011.0)  # 3 viewers x 10 s
    assert audience.viewers_now(3) == 2
    assert audience.unrecorded(3) == (3, 30)
    taken = audience.take()
    assert taken == {3: (3, 30)}
    audience.give_back(taken)  # storage failed: counted again next time
    audience.tick(1012.5)  # 2 viewers x 1.5 s
    assert audience.take() == {3: (3, 33)}
    assert audience.unrecorded(3) == (2, 0)  # the peak restarts from the viewers now


def test_a_kick_frees_a_place_under_the_caps_only_if_it_counted_there() -> None:
    """A line at its one connection that switches to the syndicated channel (kick_oldest)
    replaces a play of something else: a new viewer of the syndication, refused when full."""
    registry = SessionRegistry()
    full = dataclasses.replace(_line(1, tenant_id=20), max_connections=1)
    registry.admit(full, 7, "1.1.1.1", "tv", "ts", KICK, syndication=(3, 1), offer=(11, 1))
    for line_id in (2, 3):
        line = dataclasses.replace(_line(line_id, tenant_id=20), max_connections=1)
        own = registry.admit(line, 8, "2.2.2.2", "tv", "ts", KICK)  # its panel's own channel
        with pytest.raises(SyndicationFull):
            registry.admit(line, 7, "2.2.2.2", "tv", "ts", KICK, syndication=(3, 1))
        with pytest.raises(SyndicationTotalFull):
            registry.admit(line, 7, "2.2.2.2", "tv", "ts", KICK, syndication=(4, None),
                           offer=(11, 1))  # fmt: skip
        assert not own.ended  # a refused play kicks nobody
    assert registry.syndication_counts() == {3: 1} and registry.offer_count(11) == 1
    # Replacing its own play of the syndication is not a new viewer: admitted.
    again = registry.admit(full, 7, "1.1.1.1", "phone", "ts", KICK, syndication=(3, 1),
                           offer=(11, 1))  # fmt: skip
    assert again.syndication_id == 3 and registry.syndication_counts() == {3: 1}
