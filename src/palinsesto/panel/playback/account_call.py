"""The account call's response bytes (reference §3.1–3.2), per line, rebuilt once a second.

Of the account object only ``timestamp_now``/``time_now`` (and ``active_cons``, with the
line's sessions) move by themselves; the rest changes when the line does (a new
:class:`~palinsesto.panel.playback.lines.LineView` snapshot), its tenant's message or the panel's
public address. So a line's bytes are serialised at most once per second, and every other
account call in that second is a dict lookup. ``active_cons`` is therefore up to a second
old, as is ``status`` when a line expires mid-second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import orjson

from palinsesto.config import Settings
from palinsesto.panel.playback import xtream
from palinsesto.panel.playback.bodies import Body
from palinsesto.panel.playback.lines import LineView
from palinsesto.panel.playback.xtream import ServerIdentity

# (second, line snapshot, message, server identity, body)
_Entry = tuple[int, LineView, str, ServerIdentity, Body]


def account_body(
    settings: Settings, server: ServerIdentity, line: LineView, message: str, now: float, *,
    active_cons: int,
) -> Body:  # fmt: skip
    """The account object (§3.2) serialised, typed as the settings ask (§14)."""
    return Body(
        orjson.dumps(
            xtream.account(
                line,
                server,
                now=now,
                message=message,
                active_cons=active_cons,
                active_cons_as_string=settings.xtream_active_cons_as_string,
                xui_fields=settings.xtream_xui_fields,
            )
        )
    )


class AccountBodies:
    """Per-line account-call bodies, valid for the second they were built in.

    ``active_cons(line_id, tenant_id)`` is asked once per line per second, when its body is built.
    Bounded: past ``max_lines`` entries, those of earlier seconds are dropped.
    """

    def __init__(self, active_cons: Callable[[int, int], int], max_lines: int = 50_000) -> None:
        self._active_cons = active_cons
        self._max_lines = max_lines
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def body(
        self, settings: Settings, server: ServerIdentity, line: LineView, message: str, now: float
    ) -> Body:
        """The line's account body for the second ``now`` falls in."""
        second = int(now)
        hit = self._entries.get(line.id)
        if (
            hit is not None
            and hit[0] == second
            and hit[1] is line
            and hit[3] is server
            and hit[2] == message
        ):
            return hit[4]
        body = account_body(
            settings,
            server,
            line,
            message,
            second,
            active_cons=self._active_cons(line.id, line.tenant_id),
        )
        with self._lock:
            if len(self._entries) >= self._max_lines:
                self._entries = {k: v for k, v in self._entries.items() if v[0] == second}
            self._entries[line.id] = (second, line, message, server, body)
        return body
