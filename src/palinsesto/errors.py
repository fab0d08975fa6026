"""Rules the domain services enforce, as exceptions each surface renders its own way.

Services in ``accounts``, ``catalog`` and ``cluster`` take plain values and a Session and
raise these; the admin API maps each class to a status code in one table
(:mod:`palinsesto.panel.admin.api.errors`), the CLI prints the message.

    RuleBroken               a request breaks a rule; ``field`` names the culprit
    ├── InvalidValue         a value is malformed or refers to something unusable
    ├── AlreadyExists        a unique name is taken
    ├── PlanLimitReached     the tenant's plan allows no more of these
    ├── InsufficientCredits  the reseller's balance does not cover the price
    ├── NotPermitted         the caller's role may not do this
    ├── OutOfScope           the object does not exist for this caller
    └── StillReferenced      records that are kept for good (the credit ledger) name it
"""

from __future__ import annotations


class RuleBroken(Exception):
    """Base class: ``message`` for people, ``field`` (may be empty) for forms."""

    def __init__(self, message: str, field: str = "", fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        if field:
            self.fields.setdefault(field, message)


class InvalidValue(RuleBroken):
    pass


class AlreadyExists(RuleBroken):
    pass


class PlanLimitReached(RuleBroken):
    pass


class InsufficientCredits(RuleBroken):
    pass


class NotPermitted(RuleBroken):
    pass


class OutOfScope(RuleBroken):
    pass


class StillReferenced(RuleBroken):
    pass
