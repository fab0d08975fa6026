"""Marked plays in the database (SQLite and PostgreSQL): a code read from a capture, or an
SEI tag's session id, back to the session and line; the rights record's watermark flag; and
the ChannelInfo the engine runs, which turns it on."""

from __future__ import annotations

from datetime import UTC, datetime

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.catalog.models import Channel
from palinsesto.db import Database
from palinsesto.panel.playback.access import channel_info
from palinsesto.protocol.watermark import CODE_BITS, code_for
from palinsesto.trust.models import RightsRecord
from palinsesto.trust.watermark import (
    marks_of_session,
    marks_with_code,
    record_mark,
    slot_lengths,
)


def test_a_code_or_a_tag_names_its_plays_newest_first_within_a_tenant(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.transaction() as session:
            one = ensure_tenant(session, "one", "One")
            two = ensure_tenant(session, "two", "Two")
            session.flush()
            codes = [
                record_mark(
                    session,
                    tenant_id=tenant.id,
                    channel_id=5,
                    line_id=line,
                    username=f"user{line}",
                    session_id=100 + line,
                    output="ts",
                    slot_seconds=2.0,
                )  # fmt: skip
                for tenant, line in ((one, 1), (one, 2), (two, 3))
            ]
            # A streaming node's play carries its cluster session id's code; one that
            # wrapped around shares user1's code.
            wrapped = code_for(codes[0] + (1 << CODE_BITS))
            assert record_mark(session, tenant_id=one.id, channel_id=5, line_id=9,
                               username="later", session_id=codes[0] + (1 << CODE_BITS),
                               output="hls", slot_seconds=1.0,
                               code=wrapped) == codes[0]  # fmt: skip
            tenants = (one.id, two.id)
        assert len(set(codes)) == 3
        with db.session() as session:
            named = [m.username for m in marks_with_code(session, codes[0])]
            assert named == ["later", "user1"]
            assert marks_with_code(session, codes[2], tenants[0]) == []
            assert [m.line_id for m in marks_with_code(session, codes[2], tenants[1])] == [3]
            assert marks_with_code(session, (max(codes) + 1) % (1 << CODE_BITS)) == []
            tagged = marks_of_session(session, 102)
            assert [(m.username, m.line_id) for m in tagged] == [("user2", 2)]
            assert marks_of_session(session, 103, tenants[0]) == []
            assert slot_lengths(session) == [1.0, 2.0]
    finally:
        db.dispose()


def test_an_active_record_asking_for_it_marks_the_channel(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.transaction() as session:
            tenant = ensure_tenant(session, "marks", "Marks")
            session.flush()
            channel = Channel(tenant_id=tenant.id, name="Final",
                              sources=[{"kind": "test_pattern", "url": ""}])  # fmt: skip
            other = Channel(tenant_id=tenant.id, name="Other", sources=[])
            session.add_all([channel, other])
            session.flush()
            record = RightsRecord(tenant_id=tenant.id, item_type="channel", item_id=channel.id,
                                  holder="League", starts_at=datetime(2020, 1, 1, tzinfo=UTC),
                                  watermark=True)  # fmt: skip
            session.add(record)
            session.flush()
            assert channel_info(channel, session).watermark is True
            assert channel_info(other, session).watermark is False
            record.status = "suspended"
            session.flush()
            assert channel_info(channel, session).watermark is False
    finally:
        db.dispose()
