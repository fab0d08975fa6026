"""Marked plays in the database (SQLite and PostgreSQL): a code read from a capture, or an
SEI tag's id, back to the session and line; the rights record's watermark flag; and the
ChannelInfo the engine runs, which turns it on."""

from __future__ import annotations

from datetime import UTC, datetime

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.catalog.models import Channel
from palinsesto.db import Database
from palinsesto.panel.playback.access import channel_info
from palinsesto.protocol.watermark import CODE_BITS, code_for
from palinsesto.trust.models import RightsRecord, WatermarkMark
from palinsesto.trust.watermark import mark_by_id, marks_with_code, record_mark, slot_lengths


def test_a_code_names_its_plays_newest_first_within_a_tenant(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.transaction() as session:
            one = ensure_tenant(session, "one", "One")
            two = ensure_tenant(session, "two", "Two")
            session.flush()
            ids = [
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
            tenants = (one.id, two.id)
        with db.session() as session:
            first = marks_with_code(session, code_for(ids[0]))
            assert [m.username for m in first] == ["user1"]
            assert marks_with_code(session, code_for(ids[2]), tenants[0]) == []
            assert [m.line_id for m in marks_with_code(session, code_for(ids[2]), tenants[1])] == [
                3
            ]
            assert marks_with_code(session, (code_for(ids[2]) + 1) % (1 << CODE_BITS)) == []
            found = mark_by_id(session, ids[1])
            assert found is not None and (found.session_id, found.line_id) == (102, 2)
            assert slot_lengths(session) == [2.0]
        with db.transaction() as session:  # ids wrap: a later play may share a code
            session.add(WatermarkMark(id=ids[0] + (1 << CODE_BITS), tenant_id=tenants[0],
                                      channel_id=5, line_id=9, username="later", session_id=7,
                                      output="hls", slot_seconds=1.0))  # fmt: skip
        with db.session() as session:
            named = [m.username for m in marks_with_code(session, code_for(ids[0]))]
            assert named == ["later", "user1"]
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
