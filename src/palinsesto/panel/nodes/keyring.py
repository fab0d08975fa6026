"""The play-token key ring as this replica holds it: read from the database, refreshed when
a rotation is announced (change event ``play_keys``) and every :data:`REFRESH_SECONDS`."""

from __future__ import annotations

import threading
import time

from palinsesto.cluster import signing_keys
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.protocol.play_tokens import PlayTokens, SigningKey

KEYS_TOPIC = "play_keys"
PLATFORM = 0  # the change events' tenant id for platform-wide topics
REFRESH_SECONDS = 30.0


class PlayKeyRing:
    def __init__(self, db: Database, events: ChangeEvents) -> None:
        self._db, self._events = db, events
        self.tokens = PlayTokens([])
        self.keys: tuple[SigningKey, ...] = ()
        self._seen = (-1, 0.0)
        self._lock = threading.Lock()

    def load(self) -> None:
        """Make sure a key exists, then read the ring (start-up; a worker thread later)."""
        with self._db.transaction() as session:
            signing_keys.ensure_key(session)
        self._read()

    def _read(self) -> None:
        version = self._events.version(PLATFORM, KEYS_TOPIC)
        with self._db.session() as session:
            keys = signing_keys.current_keys(session)
        with self._lock:
            self.keys = tuple(keys)
            self.tokens.replace_keys(keys)
            self._seen = (version, time.monotonic())

    def stale(self) -> bool:
        version, at = self._seen
        changed = version != self._events.version(PLATFORM, KEYS_TOPIC)
        return changed or time.monotonic() - at > REFRESH_SECONDS

    def refresh_if_stale(self) -> None:
        if self.stale():
            self._read()

    def rotate(self) -> int:
        """Rotate in the database and tell every replica; the new key id."""
        with self._db.transaction() as session:
            key_id = signing_keys.rotate(session)
        self._events.publish(PLATFORM, KEYS_TOPIC)
        self._read()
        return key_id
