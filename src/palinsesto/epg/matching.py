"""Match guide channels to Palinsesto channels.

1. **Exact**: the channel's ``epg_channel_id`` is a guide channel's XMLTV id (the source
   with the lowest priority number wins when several carry it).
2. **Name**: the normalised channel name against the guide channels' display names, with a
   confidence in [0, 1]. At or above ``accept_at`` the match is used; between
   ``review_at`` and ``accept_at`` it waits in the review list; below, nothing.
3. **Manual**: what an operator chose or accepted. Manual and rejected mappings are never
   touched by matching, so they survive every re-import.

A channel without ``epg_channel_id`` that gets an accepted mapping takes the guide
channel's XMLTV id as its ``epg_channel_id``: that id is what M3U ``tvg-id``, the player
API and ``xmltv.php`` use to tie the guide to the channel (reference §7.2).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.catalog.models import Channel
from palinsesto.epg.models import (
    ChannelMapping,
    EpgSource,
    GuideChannel,
    MappingState,
    MatchMethod,
)

ACCEPT_AT = 0.9
REVIEW_AT = 0.6
# Words that say how a channel is delivered, not which channel it is.
_NOISE = frozenset({"hd", "fhd", "uhd", "sd", "4k", "hevc", "h264", "h265", "1080p", "720p"})
_NON_WORD = re.compile(r"[^a-z0-9+]+")


def normalise_name(name: str) -> str:
    """Lower case, no accents or punctuation, no quality tags: ``"Rai 1 HD"`` → ``"rai 1"``."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("&", " and ")
    words = [w for w in _NON_WORD.split(text) if w and w not in _NOISE]
    return " ".join(words)


def name_confidence(a: str, b: str) -> float:
    """How sure we are that two normalised names are the same channel."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    if a.replace(" ", "") == b.replace(" ", ""):
        return 0.97
    return round(SequenceMatcher(None, a, b).ratio(), 3)


@dataclass
class MatchOutcome:
    exact: int = 0
    by_name: int = 0
    review: int = 0
    unmatched: int = 0
    manual: int = 0


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: int
    xmltv_id: str
    name: str
    priority: int


def match_channels(
    session: Session, tenant_id: int, *, accept_at: float = ACCEPT_AT, review_at: float = REVIEW_AT
) -> MatchOutcome:
    """Recompute the automatic mappings of ``tenant_id`` inside the caller's transaction."""
    outcome = MatchOutcome()
    rows = session.execute(
        select(
            GuideChannel.id, GuideChannel.xmltv_id, GuideChannel.display_name, EpgSource.priority
        )
        .join(EpgSource, EpgSource.id == GuideChannel.source_id)
        .where(GuideChannel.tenant_id == tenant_id, EpgSource.enabled.is_(True))
        .order_by(EpgSource.priority, EpgSource.id)
    ).all()
    candidates = [_Candidate(r[0], r[1], normalise_name(r[2] or r[1]), r[3]) for r in rows]
    by_xmltv: dict[str, _Candidate] = {}
    by_name: dict[str, _Candidate] = {}
    by_word: defaultdict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates:
        by_xmltv.setdefault(c.xmltv_id, c)
        by_name.setdefault(c.name, c)
        for word in set(c.name.split()):
            by_word[word].append(c)
    mappings: defaultdict[int, list[ChannelMapping]] = defaultdict(list)
    for m in session.scalars(select(ChannelMapping).where(ChannelMapping.tenant_id == tenant_id)):
        mappings[m.channel_id].append(m)
    channels = session.scalars(select(Channel).where(Channel.tenant_id == tenant_id)).all()
    for channel in channels:
        existing = mappings[channel.id]
        if any(
            m.method is MatchMethod.manual and m.state is MappingState.accepted for m in existing
        ):
            outcome.manual += 1
            continue
        rejected = {m.guide_channel_id for m in existing if m.state is MappingState.rejected}
        found = _best_match(channel, by_xmltv, by_name, by_word, rejected)
        automatic = [
            m
            for m in existing
            if m.method is not MatchMethod.manual and m.state is not MappingState.rejected
        ]
        if found is None or found[2] < review_at:
            outcome.unmatched += 1
            for m in automatic:
                session.delete(m)
            continue
        candidate, method, confidence = found
        state = MappingState.accepted if confidence >= accept_at else MappingState.review
        if method is MatchMethod.exact:
            outcome.exact += 1
        elif state is MappingState.accepted:
            outcome.by_name += 1
        else:
            outcome.review += 1
        keep = None
        for m in automatic:
            if m.guide_channel_id == candidate.id and keep is None:
                keep = m
            else:
                session.delete(m)
        if keep is None:
            keep = ChannelMapping(
                tenant_id=tenant_id, channel_id=channel.id, guide_channel_id=candidate.id
            )
            session.add(keep)
        keep.method, keep.confidence, keep.state = method, confidence, state
        if state is MappingState.accepted and not channel.epg_channel_id:
            channel.epg_channel_id = candidate.xmltv_id
    session.flush()
    return outcome


def _best_match(
    channel: Channel,
    by_xmltv: dict[str, _Candidate],
    by_name: dict[str, _Candidate],
    by_word: dict[str, list[_Candidate]],
    rejected: set[int],
) -> tuple[_Candidate, MatchMethod, float] | None:
    if channel.epg_channel_id:
        exact = by_xmltv.get(channel.epg_channel_id)
        if exact is not None and exact.id not in rejected:
            return exact, MatchMethod.exact, 1.0
    name = normalise_name(channel.name)
    same = by_name.get(name)
    if same is not None and same.id not in rejected:
        return same, MatchMethod.name, 1.0
    # Only guide channels sharing a word are compared, so a 2,500 × 2,500 match stays fast;
    # the rarest word of the name picks the fewest candidates.
    words = sorted(set(name.split()), key=lambda w: len(by_word.get(w, ())))
    pool: dict[int, _Candidate] = {}
    for word in words[:2]:
        for c in by_word.get(word, ())[:500]:
            pool[c.id] = c
    best: tuple[_Candidate, MatchMethod, float] | None = None
    for c in pool.values():
        if c.id in rejected:
            continue
        score = name_confidence(name, c.name)
        if best is None or score > best[2]:
            best = (c, MatchMethod.name, score)
    return best


def set_manual(
    session: Session, tenant_id: int, channel: Channel, guide_channel: GuideChannel
) -> ChannelMapping:
    """Map ``channel`` to ``guide_channel`` by hand: it wins over any automatic match."""
    for m in session.scalars(
        select(ChannelMapping).where(ChannelMapping.channel_id == channel.id)
    ).all():
        if m.guide_channel_id != guide_channel.id and m.state is not MappingState.rejected:
            session.delete(m)
    session.flush()
    mapping = session.scalar(
        select(ChannelMapping).where(
            ChannelMapping.channel_id == channel.id,
            ChannelMapping.guide_channel_id == guide_channel.id,
        )
    )
    if mapping is None:
        mapping = ChannelMapping(
            tenant_id=tenant_id, channel_id=channel.id, guide_channel_id=guide_channel.id
        )
        session.add(mapping)
    mapping.method, mapping.state = MatchMethod.manual, MappingState.accepted
    mapping.confidence = 1.0
    if not channel.epg_channel_id:
        channel.epg_channel_id = guide_channel.xmltv_id
    session.flush()
    return mapping
