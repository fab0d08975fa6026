"""The audit log's hash chain, without I/O: digests of entries and the check of a whole chain.

Each entry commits to the one before it: ``digest = SHA-256(prev_digest || canonical(entry))``,
and the chain's head (the last sequence number and digest) is kept apart from the entries.
Editing an entry changes its digest, so the next entry's ``prev_hash`` no longer matches;
removing one leaves a gap in the sequence; removing the newest ones leaves the head pointing
past the end. Anyone with write access to the database can of course rebuild the whole chain;
``palinsesto audit verify`` prints the head digest so that an operator can keep it elsewhere
(a ticket, an e-mail to the rights holder) and prove later that nothing before it changed.

Personal data and the chain. An entry written since migration 0013 does not hash its
personal fields (:data:`PERSONAL_FIELDS`: who acted, the rows before and after, the client
address) directly: it hashes a commitment to each, ``SHA-256(salt || name || value)`` with a
random salt per field kept beside the entry. Erasing or truncating such a field (GDPR
erasure, IP retention) stores the field's commitment in ``redacted`` and drops its salt, so
the entry's digest still checks while the original value can no longer be read back or
guessed (the salt, 128 random bits, is gone). Any other edit still breaks the chain: a
changed value no longer matches its salted commitment, and a forged commitment changes the
digest. Entries written before 0013 hash their fields directly and cannot be redacted.

The replacement values are sealed too: whoever redacts appends a ``redact`` entry (entity
``audit_log``) whose ``after`` maps each redacted entry's sequence number to a fingerprint
of its replacement values (:func:`redaction_fingerprint`). The check compares every
redacted entry with the latest seal naming it, so editing an erased field by hand (or
forging a seal, itself a chained entry) is found like any other edit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64  # the "previous digest" of the first entry

# The columns an entry's digest covers, in this order. ``tenant_ref`` (not ``tenant_id``,
# which becomes NULL when a tenant is deleted) keeps the tenant the entry was written for.
CHAINED_FIELDS = (
    "seq",
    "tenant_ref",
    "actor_id",
    "actor",
    "action",
    "entity",
    "entity_id",
    "before",
    "after",
    "ip",
    "created_at",
)
# The fields that can hold personal data, each committed to with its own salt (see above).
PERSONAL_FIELDS = ("actor", "before", "after", "ip")


def canonical_json(value: Any) -> Any:
    """``value`` as it reads back from a JSON column: what is stored is what is hashed."""
    if value is None:
        return None
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def field_commitment(salt: str, name: str, value: Any) -> str:
    """What a salted entry's digest covers for its personal field ``name``."""
    body = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(f"{salt}|{name}|".encode() + body).hexdigest()


def _committed(entry: Mapping[str, Any], name: str) -> str:
    redacted = entry.get("redacted") or {}
    if name in redacted:
        return str(redacted[name])
    salt = (entry.get("salts") or {}).get(name)
    if not salt:  # neither salted nor redacted: no commitment can match
        return ""
    return field_commitment(salt, name, entry[name])


def entry_digest(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """The digest of ``entry`` (a mapping with :data:`CHAINED_FIELDS`, and ``salts`` and
    ``redacted`` for entries written since 0013) chained to ``prev_hash``."""
    salted = bool(entry.get("salts") or entry.get("redacted"))
    values: list[Any] = []
    for name in CHAINED_FIELDS:
        if name == "created_at":
            values.append(_timestamp(entry["created_at"]))
        elif salted and name in PERSONAL_FIELDS:
            values.append(_committed(entry, name))
        else:
            values.append(entry[name])
    body = orjson.dumps(
        ["v2", values] if salted else values,
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


def redaction_fingerprint(entry: Mapping[str, Any]) -> str:
    """What a seal records for a redacted entry: a digest of its redacted fields' values."""
    names = sorted((entry.get("redacted") or {}).keys())
    body = orjson.dumps(
        {name: entry[name] for name in names},
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return hashlib.sha256(body).hexdigest()[:32]


def is_seal(entry: Mapping[str, Any]) -> bool:
    return entry["entity"] == "audit_log" and entry["action"] == "redact"


def new_salts() -> dict[str, str]:
    return {name: secrets.token_hex(16) for name in PERSONAL_FIELDS}


@dataclass(frozen=True, slots=True)
class Redaction:
    """An entry's ``salts`` and ``redacted`` after some of its personal fields were replaced."""

    salts: dict[str, str]
    redacted: dict[str, str]


class NotRedactable(ValueError):
    """The entry predates salted commitments (migration 0013): its fields are hashed as is."""


def redact(entry: Mapping[str, Any], names: Iterable[str]) -> Redaction:
    """Commit ``names`` of ``entry`` for good so that their values may then be replaced.

    Call it with the entry's current values, then store the replacement values together
    with the returned salts and redacted commitments; the digest stays the same.
    """
    salts = dict(entry.get("salts") or {})
    redacted = dict(entry.get("redacted") or {})
    if not salts and not redacted:
        raise NotRedactable("this audit entry was written before personal fields were salted")
    for name in names:
        if name not in PERSONAL_FIELDS:
            raise ValueError(f"{name} is not a personal field of an audit entry")
        if name not in redacted:
            redacted[name] = _committed(entry, name)
        salts.pop(name, None)
    return Redaction(salts, redacted)


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    digest: str


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first place where the chain does not hold, in words an operator can act on."""

    seq: int
    entry_id: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    head: ChainHead
    problem: ChainProblem | None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify_chain(entries: Iterable[Mapping[str, Any]], head: ChainHead | None) -> ChainReport:
    """Walk ``entries`` in sequence order and check every link and the stored head.

    Each entry is a mapping with :data:`CHAINED_FIELDS` plus ``id``, ``prev_hash`` and
    ``row_hash``. Stops at the first problem.
    """
    expected_seq, prev, count = 1, GENESIS, 0
    redacted: dict[int, tuple[int | None, str]] = {}  # seq -> (id, fingerprint now)
    sealed: dict[int, str] = {}  # seq -> fingerprint of the latest seal naming it
    for entry in entries:
        seq, entry_id = entry["seq"], entry["id"]
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}–{seq - 1}"
            problem = ChainProblem(seq, entry_id, f"entries {missing} are missing before this one")
            return ChainReport(count, ChainHead(expected_seq - 1, prev), problem)
        if entry["prev_hash"] != prev:
            problem = ChainProblem(
                seq, entry_id, "does not follow the entry before it (that one was edited)"
            )
            return ChainReport(count, ChainHead(seq - 1, prev), problem)
        digest = entry_digest(prev, entry)
        if digest != entry["row_hash"]:
            problem = ChainProblem(seq, entry_id, "was edited after it was written")
            return ChainReport(count, ChainHead(seq - 1, prev), problem)
        if entry.get("redacted"):
            redacted[seq] = (entry_id, redaction_fingerprint(entry))
        if is_seal(entry) and isinstance(entry["after"], dict):
            for key, value in (entry["after"].get("redactions") or {}).items():
                sealed[int(key)] = str(value)
        prev, expected_seq, count = digest, seq + 1, count + 1
    reached = ChainHead(expected_seq - 1, prev)
    for seq, (entry_id, fingerprint) in sorted(redacted.items()):
        if sealed.get(seq) != fingerprint:
            reason = "was edited after its personal data was erased"
            return ChainReport(count, reached, ChainProblem(seq, entry_id, reason))
    stored = head or ChainHead(0, GENESIS)
    if stored != reached:
        if stored.seq > reached.seq:
            reason = f"the newest entries {reached.seq + 1}–{stored.seq} were removed"
        else:
            reason = "the chain's head does not match its last entry"
        return ChainReport(count, reached, ChainProblem(stored.seq, None, reason))
    return ChainReport(count, reached, None)
