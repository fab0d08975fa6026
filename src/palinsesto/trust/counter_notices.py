"""Counter-notices without I/O: what one must contain, when the restriction ends, what we state.

The party a decision restricts (the line's holder, the service's operator) may object. The
elements follow US DMCA 17 U.S.C. 512(g)(3) — (A) a signature, (B) identification of the
material removed, (C) a statement under penalty of perjury of a good-faith belief that it
was removed by mistake or misidentification, (D) name, address, telephone and consent to
the jurisdiction of a court — which also covers what a DSA Art. 20 complaint needs (an
explanation, the decision complained of). 512(g)(2)(C) restores the material 10 to 14
business days after the counter-notice unless the notifier says it has gone to court;
:func:`business_days_after` computes that deadline.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from palinsesto.trust.notices import DEFAULT_REDRESS, ActionKind, FieldProblem


class CounterStatus(enum.StrEnum):
    pending = "pending"  # waiting for the notifier's legal action or the deadline
    restored = "restored"  # the deadline passed without legal action: restriction lifted
    upheld = "upheld"  # the notifier went to court: the restriction stays
    moot = "moot"  # the restriction had already ended


class LiftReason(enum.StrEnum):
    expired = "expired"  # its expiry date passed
    counter_notice = "counter_notice"  # a counter-notice, and no legal action in time
    staff = "staff"  # the service's staff reviewed the restriction and ended it


@dataclass(frozen=True, slots=True)
class CounterSubmission:
    reference: str = ""  # the decision's reference, from its statement of reasons
    name: str = ""
    email: str = ""
    address: str = ""
    phone: str = ""
    explanation: str = ""
    good_faith: bool = False  # (C), under penalty of perjury
    consent_jurisdiction: bool = False  # (D)
    signature: str = ""  # (A)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def problems(counter: CounterSubmission) -> list[FieldProblem]:
    """Every element the counter-notice lacks, as sentences naming the provision."""
    found: list[FieldProblem] = []

    def need(ok: bool, name: str, message: str) -> None:
        if not ok:
            found.append(FieldProblem(name, message))

    need(
        bool(counter.reference.strip()),
        "reference",
        "Give the reference of the decision you object to: it is in the statement of "
        "reasons you received (512(g)(3)(B)).",
    )
    need(bool(counter.name.strip()), "name", "Give your full name (512(g)(3)(D)).")
    need(
        bool(_EMAIL.match(counter.email.strip())),
        "email",
        "Give a valid e-mail address, where the decision on your objection is sent.",
    )
    need(bool(counter.address.strip()), "address", "Give your postal address (512(g)(3)(D)).")
    need(bool(counter.phone.strip()), "phone", "Give your telephone number (512(g)(3)(D)).")
    need(
        len(counter.explanation.strip()) >= 20,
        "explanation",
        "Explain, in at least 20 characters, why the decision is wrong (DSA Art. 20).",
    )
    need(
        counter.good_faith,
        "good_faith",
        "State, under penalty of perjury, that you believe in good faith that the content "
        "was restricted by mistake or misidentification (512(g)(3)(C)).",
    )
    need(
        counter.consent_jurisdiction,
        "consent_jurisdiction",
        "Consent to the jurisdiction of the court for your address, and accept service of "
        "process from the notifier (512(g)(3)(D)).",
    )
    need(
        bool(counter.signature.strip()),
        "signature",
        "Sign the counter-notice: type your full name (512(g)(3)(A)).",
    )
    return found


def business_days_after(start: datetime, days: int) -> datetime:
    """``start`` moved ``days`` business days (Monday to Friday) later, same time of day.

    Public holidays are not known here: the deadline is the earliest the law allows, and
    operators wanting more set ``PALINSESTO_COUNTER_NOTICE_BUSINESS_DAYS`` higher.
    """
    moment, left = start, days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def restrictable(kind: ActionKind) -> bool:
    """Whether an action leaves a restriction in place that can later be lifted."""
    return kind in (
        ActionKind.block_item,
        ActionKind.suspend_line,
        ActionKind.disable_item,
        ActionKind.suspend_tenant,
    )


def lift_statement(
    action_id: int,
    kind: ActionKind,
    reason: LiftReason,
    lifted_at: datetime,
    targets: list[dict[str, str]],
    counter_notice_id: int | None = None,
    facts: str = "",
) -> dict[str, Any]:
    """The statement given when a restriction ends, in the shape of a statement of reasons.

    ``facts`` are the staff's own words when they lift it after a review.
    """
    automated = reason is not LiftReason.staff
    if reason is LiftReason.staff:
        facts = facts or "The service's staff reviewed the restriction and ended it."
        ground = "Review of the decision by the service (DSA Art. 20(4))."
    elif reason is LiftReason.expired:
        facts = "The restriction reached the end of the period it was imposed for."
        ground = "The decision's own duration (DSA Art. 17(3)(a))."
    else:
        facts = (
            f"The affected party filed counter-notice {counter_notice_id}, and the notifier "
            "did not report legal action within the period allowed."
        )
        ground = "17 U.S.C. 512(g)(2)(C); DSA Art. 20(4)."
    return {
        "action_id": action_id,
        "lifted_at": lifted_at.isoformat(),
        "restriction_lifted": {"kind": kind.value, "content": targets},
        "reason": reason.value,
        "facts_and_circumstances": facts,
        "automated_means": {"used_for_decision": automated},
        "legal_ground": ground,
        "redress": list(DEFAULT_REDRESS),
    }
