"""Build the panel's node control for an application and run its periodic sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from palinsesto.panel.nodes.control import NodeControl
from palinsesto.panel.nodes.keyring import PlayKeyRing
from palinsesto.panel.playback.access import PlaybackAccess
from palinsesto.panel.playback.lines import shared_line_directory
from palinsesto.panel.playback.rights_gate import RightsGate
from palinsesto.panel.playback.watch_tokens import WatchTokens
from palinsesto.trust.geo import CountryLookup

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _SlotSession:
    """A slot as the dashboard's sampler sees a session (bytes are the nodes' to count)."""

    tenant_id: int
    id: int
    bytes: int = 0


class SlotSessions:
    """``.all()`` over the session slots, for the viewer-history sampler."""

    def __init__(self, control: NodeControl) -> None:
        self._control = control

    def all(self) -> list[_SlotSession]:
        return [_SlotSession(s.tenant_id, s.session_id) for s in self._control.slots.all()]


class CombinedSessions:
    """The player API's ``active_cons``: the local engine's sessions plus the nodes' slots."""

    def __init__(self, local: Any, control: NodeControl) -> None:
        self.local, self.control = local, control
        self.sessions = SlotSessions(control)

    def active_count(self, line_id: int) -> int:
        local = self.local.active_count(line_id) if self.local is not None else 0
        return int(local) + self.control.active_count(line_id)


class NodeService:
    """Owns the key ring's first load and the sweep loop (every heartbeat period)."""

    def __init__(self, control: NodeControl) -> None:
        self.control = control
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.control.keys.load)
        self._task = asyncio.get_running_loop().create_task(self._sweep(), name="node-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.control.settings.node_heartbeat_seconds)
            try:
                await asyncio.to_thread(self.control.sweep)
            except Exception:
                # The database may be briefly away; the next sweep does the same work.
                log.exception("node sweep failed")


def install_nodes(ctx: Any) -> NodeService:
    """``ctx.services["nodes"]`` (the control) and ``["sessions"]`` (active_cons over the
    local engine, if any, and the nodes)."""
    settings = ctx.settings
    lines = shared_line_directory(ctx.services, ctx.db, ctx.events, ctx.line_throttle)
    geo = CountryLookup(settings.geoip_db) if settings.geoip_db else None
    access = PlaybackAccess(
        ctx.db,
        ctx.events,
        lines,
        WatchTokens(settings.secret_key or "unset"),
        RightsGate(ctx.db, ctx.events, geo),
    )
    control = NodeControl(settings, ctx.db, ctx.events, access, PlayKeyRing(ctx.db, ctx.events))
    ctx.services["nodes"] = control
    ctx.services["sessions"] = CombinedSessions(ctx.services.get("sessions"), control)
    return NodeService(control)
