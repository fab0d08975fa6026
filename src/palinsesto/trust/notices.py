"""Notice-and-action without I/O: what a notice must contain, what it names, what we decided.

A notice reaches an operator under one of two regimes, and each names the elements a valid
notice carries:

* EU Digital Services Act, Art. 16(2): (a) a substantiated explanation of why the content
  is illegal, (b) the exact electronic location (URLs), (c) the notifier's name and e-mail
  address, (d) a statement of good faith that the notice is accurate and complete.
* US DMCA, 17 U.S.C. 512(c)(3)(A): (i) a signature of a person authorised to act for the
  owner, (ii) the copyrighted work, (iii) the infringing material and where it is, (iv) the
  notifier's contact details, (v) a good-faith statement that the use is not authorised,
  (vi) a statement, under penalty of perjury, that the notice is accurate and the notifier
  is authorised.

:func:`problems` returns every missing element as a sentence naming its provision (the API
shows them per field); :func:`locate` turns the locations a notice gives into what they
name on this platform (a channel, a movie, an episode, a line), from the URL forms viewers'
apps use; :func:`statement_of_reasons` writes the DSA Art. 17(3) statement for a decision.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class NoticeRegime(enum.StrEnum):
    dsa = "dsa"
    dmca = "dmca"


class NoticeStatus(enum.StrEnum):
    received = "received"
    actioned = "actioned"
    rejected = "rejected"


class ActionKind(enum.StrEnum):
    """Graduated actions, lightest first."""

    end_sessions = "end_sessions"  # cut the line's running plays of the item
    block_item = "block_item"  # the line can no longer play or list the item
    suspend_line = "suspend_line"  # the line can no longer play anything
    disable_item = "disable_item"  # nobody can play or list the item
    suspend_tenant = "suspend_tenant"  # the whole service is suspended (platform staff only)
    reject = "reject"  # no action: the notice is unfounded or incomplete


class TargetKind(enum.StrEnum):
    channel = "channel"
    movie = "movie"
    episode = "episode"
    series = "series"  # what a block of an episode applies to: its series
    line = "line"
    tenant = "tenant"  # a service of the platform (ref: its id)


@dataclass(frozen=True, slots=True)
class NoticeSubmission:
    regime: NoticeRegime
    notifier_name: str = ""
    notifier_email: str = ""
    notifier_address: str = ""
    notifier_phone: str = ""
    explanation: str = ""
    work: str = ""  # DMCA (ii): the copyrighted work
    locations: Sequence[str] = ()
    good_faith: bool = False
    accurate: bool = False
    authorised: bool = False  # DMCA (vi), under penalty of perjury
    signature: str = ""  # DMCA (i)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def problems(notice: NoticeSubmission) -> list[FieldProblem]:
    """Every element the notice's regime requires and the notice lacks, as sentences."""
    found: list[FieldProblem] = []

    def need(ok: bool, name: str, message: str) -> None:
        if not ok:
            found.append(FieldProblem(name, message))

    has_location = any(loc.strip() for loc in notice.locations)
    email_ok = bool(_EMAIL.match(notice.notifier_email.strip()))
    if notice.regime is NoticeRegime.dsa:
        need(
            len(notice.explanation.strip()) >= 20,
            "explanation",
            "Explain why you consider the content illegal (DSA Art. 16(2)(a)), "
            "in at least 20 characters.",
        )
        need(
            has_location,
            "locations",
            "Give the exact address of the content, such as the stream URL (DSA Art. 16(2)(b)).",
        )
        need(bool(notice.notifier_name.strip()), "notifier_name", "Give your name (Art. 16(2)(c)).")
        need(email_ok, "notifier_email", "Give a valid e-mail address (DSA Art. 16(2)(c)).")
        need(
            notice.good_faith and notice.accurate,
            "good_faith",
            "Confirm that you believe in good faith that the notice is accurate and complete "
            "(DSA Art. 16(2)(d)).",
        )
    else:
        need(
            bool(notice.signature.strip()),
            "signature",
            "Sign the notice: type the full name of the person authorised to act for the "
            "owner (17 U.S.C. 512(c)(3)(A)(i)).",
        )
        need(
            bool(notice.work.strip()),
            "work",
            "Identify the copyrighted work claimed to be infringed (512(c)(3)(A)(ii)).",
        )
        need(
            has_location,
            "locations",
            "Identify the infringing material and where it is, such as the stream URL "
            "(512(c)(3)(A)(iii)).",
        )
        need(
            bool(notice.notifier_name.strip()),
            "notifier_name",
            "Give your name (512(c)(3)(A)(iv)).",
        )
        need(email_ok, "notifier_email", "Give a valid e-mail address (512(c)(3)(A)(iv)).")
        need(
            bool(notice.notifier_address.strip() or notice.notifier_phone.strip()),
            "notifier_address",
            "Give a postal address or a telephone number (512(c)(3)(A)(iv)).",
        )
        need(
            notice.good_faith,
            "good_faith",
            "State that you believe in good faith that the use is not authorised by the owner, "
            "its agent or the law (512(c)(3)(A)(v)).",
        )
        need(
            notice.accurate and notice.authorised,
            "authorised",
            "State, under penalty of perjury, that the notice is accurate and that you are "
            "authorised to act for the owner (512(c)(3)(A)(vi)).",
        )
    return found


@dataclass(frozen=True, slots=True)
class Target:
    """Something on this platform a location names: ``ref`` is an id or a line's username."""

    kind: TargetKind
    ref: str


# /live/U/P/ID.ext, /movie/U/P/ID.ext, /series/U/P/ID.ext, the short /U/P/ID form, and the
# panel's signed /live/~watch/TOKEN/ID.m3u8 (reference §2 URL forms).
_PLAY = re.compile(
    r"^/(?:(?P<kind>live|movie|series|timeshift)/)?(?P<user>[^/]+)/(?P<password>[^/]+)/"
    r"(?:\d+/[\d:-]+/)?(?P<id>\d{1,10})(?:\.[A-Za-z0-9]{1,5})?$"
)
_WATCH = re.compile(r"^/watch/(?P<id>\d{1,10})-[0-9a-f]+$")


def locate(location: str) -> list[Target]:
    """What one location of a notice names here (nothing when it names nothing of ours).

    Only the path and query are read: a notice may quote our URL under any host name.
    """
    try:
        parts = urlsplit(location.strip())
    except ValueError:
        return []
    path = unquote(parts.path)
    query = parse_qs(parts.query)
    if path.endswith(("/get.php", "/player_api.php", "/xmltv.php")) and "username" in query:
        return [Target(TargetKind.line, query["username"][0])]
    if match := _WATCH.match(path):
        return [Target(TargetKind.channel, match["id"])]
    match = _PLAY.match(path)
    if match is None:
        return []
    kind = {"movie": TargetKind.movie, "series": TargetKind.episode}.get(
        match["kind"] or "live", TargetKind.channel
    )
    targets = [Target(kind, match["id"])]
    if match["user"] != "~watch":
        targets.append(Target(TargetKind.line, match["user"]))
    return targets


def locate_all(locations: Iterable[str]) -> list[Target]:
    seen: dict[Target, None] = {}
    for location in locations:
        for target in locate(location):
            seen.setdefault(target)
    return list(seen)


@dataclass(frozen=True, slots=True)
class Decision:
    """What was decided on a notice, with what :func:`statement_of_reasons` needs."""

    action: ActionKind
    targets: Sequence[Target]
    facts: str
    legal_ground: str = ""
    contractual_ground: str = ""
    automated: bool = False
    territorial_scope: str = "all territories"
    expires_at: datetime | None = None
    decided_at: datetime | None = None
    redress: Sequence[str] = field(default_factory=tuple)


_ACTION_WORDS = {
    ActionKind.end_sessions: "the running plays of the content were ended",
    ActionKind.block_item: "the subscription (line) can no longer access the content",
    ActionKind.suspend_line: "the subscription (line) was suspended",
    ActionKind.disable_item: "access to the content was disabled",
    ActionKind.suspend_tenant: "the service distributing the content was suspended",
    ActionKind.reject: "no restriction was applied",
}

DEFAULT_REDRESS = (
    "You may contest this decision with the operator's internal complaint handling by "
    "replying to this statement (DSA Art. 20).",
    "You may refer the dispute to a certified out-of-court dispute settlement body (DSA Art. 21).",
    "You may seek redress before a court.",
)


def statement_of_reasons(
    notice_id: int, regime: NoticeRegime, decision: Decision
) -> dict[str, Any]:
    """The statement of reasons of DSA Art. 17(3), points (a) to (f), as a JSON object."""
    duration = (
        f"until {decision.expires_at.isoformat()}" if decision.expires_at else "until reviewed"
    )
    return {
        "notice_id": notice_id,
        "decided_at": decision.decided_at.isoformat() if decision.decided_at else None,
        "restriction": {  # (a)
            "kind": decision.action.value,
            "description": _ACTION_WORDS[decision.action],
            "territorial_scope": decision.territorial_scope,
            "duration": duration if decision.action is not ActionKind.reject else None,
            "content": [{"kind": t.kind.value, "ref": t.ref} for t in decision.targets],
        },
        "facts_and_circumstances": {  # (b)
            "facts": decision.facts,
            "based_on_notice": True,
            "notice_regime": regime.value,
        },
        "automated_means": {  # (c)
            "used_for_detection": False,
            "used_for_decision": decision.automated,
        },
        "legal_ground": decision.legal_ground or None,  # (d)
        "contractual_ground": decision.contractual_ground or None,  # (e)
        "redress": list(decision.redress or DEFAULT_REDRESS),  # (f)
    }


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """One notice as the transparency report counts it."""

    regime: NoticeRegime
    status: NoticeStatus
    trusted: bool
    received_at: datetime
    decided_at: datetime | None
    actions: Sequence[ActionKind]
    first_action_at: datetime | None = None  # the first decision that restricted something


@dataclass(frozen=True, slots=True)
class CounterFacts:
    """One counter-notice as the transparency report counts it."""

    received_at: datetime
    status: str
    restored_at: datetime | None


@dataclass(frozen=True, slots=True)
class LiftFacts:
    """One restriction that ended (its reason: "expired" or "counter_notice")."""

    lifted_at: datetime
    reason: str


def _median(values: list[float]) -> float | None:
    return median(values) if values else None


def transparency_report(
    notices: Iterable[NoticeFacts],
    since: datetime,
    until: datetime,
    counters: Iterable[CounterFacts] = (),
    lifts: Iterable[LiftFacts] = (),
) -> dict[str, Any]:
    """Counts and median handling times of what happened in [since, until) (DSA Art. 15).

    Notices and counter-notices count by when they arrived; restorations and lifted
    restrictions by when they took effect.
    """

    def within(moment: datetime | None) -> bool:
        return moment is not None and since <= moment < until

    rows = [n for n in notices if within(n.received_at)]
    by_regime = {r.value: sum(1 for n in rows if n.regime is r) for r in NoticeRegime}
    by_status = {s.value: sum(1 for n in rows if n.status is s) for s in NoticeStatus}
    by_action = {a.value: sum(1 for n in rows for x in n.actions if x is a) for a in ActionKind}
    by_regime_status = {
        r.value: {
            s.value: sum(1 for n in rows if n.regime is r and n.status is s) for s in NoticeStatus
        }
        for r in NoticeRegime
    }
    handled = [
        (n.decided_at - n.received_at).total_seconds() for n in rows if n.decided_at is not None
    ]
    trusted = [
        (n.decided_at - n.received_at).total_seconds()
        for n in rows
        if n.decided_at is not None and n.trusted
    ]
    acted = [
        (n.first_action_at - n.received_at).total_seconds()
        for n in rows
        if n.first_action_at is not None
    ]
    counter_rows = [c for c in counters if within(c.received_at)]
    counter_status: dict[str, int] = {}
    for c in counter_rows:
        counter_status[c.status] = counter_status.get(c.status, 0) + 1
    lifted = [x for x in lifts if within(x.lifted_at)]
    return {
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "notices": len(rows),
        "from_trusted_notifiers": sum(1 for n in rows if n.trusted),
        "by_regime": by_regime,
        "by_status": by_status,
        "by_regime_and_status": by_regime_status,
        "actions": by_action,
        "median_seconds_to_action": _median(acted),
        "median_seconds_to_decision": _median(handled),
        "median_seconds_to_decision_trusted": _median(trusted),
        "counter_notices": {"received": len(counter_rows), "by_status": counter_status},
        "restorations": sum(1 for x in lifted if x.reason == "counter_notice"),
        "expired_restrictions_lifted": sum(1 for x in lifted if x.reason == "expired"),
        "lifted_after_review": sum(1 for x in lifted if x.reason == "staff"),
    }
