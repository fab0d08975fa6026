"""The legal rules without I/O: counter-notice elements, business-day deadlines, address
truncation, erasure inside the audit chain, pseudonyms in stored JSON, masked log lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from palinsesto.redaction import redact_request_target
from palinsesto.trust.audit_chain import (
    GENESIS,
    ChainHead,
    entry_digest,
    new_salts,
    redact,
    redaction_fingerprint,
    verify_chain,
)
from palinsesto.trust.counter_notices import CounterSubmission, business_days_after, problems
from palinsesto.trust.personal_data import scrub_line
from palinsesto.trust.retention import truncate_ip


def test_an_empty_counter_notice_lacks_every_element() -> None:
    found = {p.field: p.message for p in problems(CounterSubmission())}
    assert set(found) == {
        "reference",
        "name",
        "email",
        "address",
        "phone",
        "explanation",
        "good_faith",
        "consent_jurisdiction",
        "signature",
    }
    assert "512(g)(3)(C)" in found["good_faith"] and "512(g)(3)(A)" in found["signature"]
    complete = CounterSubmission(
        reference="r",
        name="n",
        email="a@b.example",
        address="x",
        phone="1",
        explanation="It was a mistake, really.",
        good_faith=True,
        consent_jurisdiction=True,
        signature="n",
    )
    assert problems(complete) == []


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (datetime(2026, 11, 30, 9, tzinfo=UTC), 10, datetime(2026, 12, 14, 9, tzinfo=UTC)),  # Mon
        (datetime(2026, 12, 4, 9, tzinfo=UTC), 1, datetime(2026, 12, 7, 9, tzinfo=UTC)),  # Fri
        (datetime(2026, 11, 28, 9, tzinfo=UTC), 1, datetime(2026, 11, 30, 9, tzinfo=UTC)),  # Sat
        (datetime(2026, 11, 29, 9, tzinfo=UTC), 0, datetime(2026, 11, 29, 9, tzinfo=UTC)),
    ],
)
def test_business_days_skip_weekends(start: datetime, days: int, expected: datetime) -> None:
    assert business_days_after(start, days) == expected


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("testclient", ""),
        ("", ""),
    ],
)
def test_addresses_are_truncated_to_their_network(ip: str, expected: str) -> None:
    assert truncate_ip(ip) == expected


def _chain(count: int) -> list[dict[str, Any]]:
    entries, prev = [], GENESIS
    for seq in range(1, count + 1):
        entry: dict[str, Any] = {
            "id": seq,
            "seq": seq,
            "tenant_ref": 1,
            "actor_id": 7,
            "actor": "alice",
            "action": "update",
            "entity": "line",
            "entity_id": "3",
            "before": {"username": "holder", "n": seq},
            "after": {"username": "holder", "n": seq + 1},
            "ip": "203.0.113.9",
            "created_at": datetime(2026, 11, 29, 3, seq, tzinfo=UTC),
            "salts": new_salts(),
            "redacted": None,
            "prev_hash": prev,
        }
        entry["row_hash"] = prev = entry_digest(prev, entry)
        entries.append(entry)
    return entries


def _seal(entries: list[dict[str, Any]], seqs: list[int]) -> None:
    """Append the redact entry that fixes the replacement values of ``seqs``."""
    last = entries[-1]
    seal: dict[str, Any] = {
        **last,
        "id": last["id"] + 1,
        "seq": last["seq"] + 1,
        "action": "redact",
        "entity": "audit_log",
        "entity_id": "",
        "before": None,
        "after": {"redactions": {str(s): redaction_fingerprint(entries[s - 1]) for s in seqs}},
        "ip": "",
        "salts": new_salts(),
        "redacted": None,
        "prev_hash": last["row_hash"],
    }
    seal["row_hash"] = entry_digest(last["row_hash"], seal)
    entries.append(seal)


def _head(entries: list[dict[str, Any]]) -> ChainHead:
    return ChainHead(entries[-1]["seq"], entries[-1]["row_hash"])


def test_erased_fields_keep_the_chain_and_edits_still_break_it() -> None:
    entries = _chain(3)
    assert verify_chain(entries, _head(entries)).intact
    target = entries[1]
    redaction = redact(target, ["before", "after", "ip"])
    target.update(
        before={"erased": True},
        after={"erased": True},
        ip="",
        **{"salts": redaction.salts, "redacted": redaction.redacted},
    )
    assert entry_digest(target["prev_hash"], target) == target["row_hash"]  # digest unchanged
    unsealed = verify_chain(entries, _head(entries))
    assert unsealed.problem is not None and unsealed.problem.seq == 2  # not sealed yet
    _seal(entries, [2])
    assert verify_chain(entries, _head(entries)).intact

    target["after"] = {"erased": False}  # a hand edit of an erased field
    report = verify_chain(entries, _head(entries))
    assert (
        report.problem is not None and "after its personal data was erased" in report.problem.reason
    )
    target["after"] = {"erased": True}
    entries[0]["actor"] = "mallory"  # a hand edit of a field never erased
    report = verify_chain(entries, _head(entries))
    assert report.problem is not None and report.problem.seq == 1


def test_entries_before_salting_cannot_be_redacted() -> None:
    entry = {**_chain(1)[0], "salts": None}
    with pytest.raises(ValueError, match="before personal fields were salted"):
        redact(entry, ["ip"])


def test_a_line_is_named_by_its_pseudonym_in_stored_json() -> None:
    stored = {
        "targets": [{"kind": "line", "ref": "bob"}, {"kind": "channel", "ref": "5"}],
        "locations": [
            "http://tv.example/live/bob/s3cret/5.ts",
            "http://tv.example/get.php?username=bob&password=s3cret&type=m3u",
        ],
        "note": "bobsleigh on channel 5",  # a longer word is not the username
    }
    assert scrub_line(stored, "bob", "erased-1") == {
        "targets": [{"kind": "line", "ref": "erased-1"}, {"kind": "channel", "ref": "5"}],
        "locations": [
            "http://tv.example/live/erased-1/***/5.ts",
            "http://tv.example/get.php?username=erased-1&password=***&type=m3u",
        ],
        "note": "bobsleigh on channel 5",
    }


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/live/u/p/1.ts", "/live/u/***/1.ts"),
        ("/movie/u/p/9.mp4", "/movie/u/***/9.mp4"),
        ("/timeshift/u/p/60/2026-01-01:10-00/5.ts", "/timeshift/u/***/60/2026-01-01:10-00/5.ts"),
        ("/live/~watch/AbCdEfGhIjKlMnOpQrStUv/7.m3u8", "/live/~watch/***/7.m3u8"),
        ("/hls/AbCdEfGhIjKlMnOpQrStUv/12.ts", "/hls/***/12.ts"),
        ("/u/p/123.ts", "/u/***/123.ts"),
        (
            "/player_api.php?username=u&password=p&action=x",
            "/player_api.php?username=u&password=***&action=x",
        ),
        ("/api/v1/lines/5", "/api/v1/lines/5"),
        ("/t/acme/operator", "/t/acme/operator"),
    ],
)
def test_access_log_targets_are_masked(target: str, expected: str) -> None:
    assert redact_request_target(target) == expected


def test_a_chain_written_across_migration_0010_verifies() -> None:
    """Entries from before 0010 (no salts: values hashed as they are) and after, in one chain."""
    entries, prev = _chain(4), GENESIS
    for entry in entries:
        if entry["seq"] <= 2:
            entry["salts"] = None
        entry["prev_hash"] = prev
        entry["row_hash"] = prev = entry_digest(prev, entry)
    assert verify_chain(entries, _head(entries)).intact
    entries[0]["ip"] = "198.51.100.1"
    report = verify_chain(entries, _head(entries))
    assert report.problem is not None and report.problem.seq == 1
