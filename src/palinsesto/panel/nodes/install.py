"""Build the panel's node control for an application and run its periodic sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from palinsesto.cluster.node_leases import make_node_leases
from palinsesto.cluster.session_slots import make_session_slots
from palinsesto.panel.nodes.control import NodeControl
from palinsesto.panel.nodes.keyring import PlayKeyRing
from palinsesto.panel.playback.access import PlaybackAccess
from palinsesto.panel.playback.lines import shared_line_directory
from palinsesto.panel.playback.rights_gate import RightsGate
from palinsesto.panel.playback.watch_tokens import WatchTokens
from palinsesto.trust.geo import CountryLookup

log = logging.getLogger(__name__)


class _NoSessions:
    def all(self) -> list[Any]:
        return []


class NoLocalEngine:
    """What the dashboard's sampler observes on a panel without a local engine: no local
    sessions (the nodes' viewers are in the Servers page and the live overview)."""

    sessions = _NoSessions()


class NodeService:
    """Owns the key ring's first load and the sweep loop (every heartbeat period)."""

    def __init__(self, control: NodeControl) -> None:
        self.control = control
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.control.keys.load)
        loop = asyncio.get_running_loop()
        self.control.loop = loop  # line changes end node sessions (control.recheck_lines)
        self._task = loop.create_task(self._sweep(), name="node-sweep")
        self._watch = loop.create_task(self.control.syndication.run(), name="syndication-watch")

    async def stop(self) -> None:
        for task in (self._task, self._watch):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.control.syndication.flush()  # the audience measured since the last one
        await self.control.leases.close()
        await self.control.slots.close()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.control.settings.node_heartbeat_seconds)
            try:
                await self.control.sweep()
            except Exception:
                # The database may be briefly away; the next sweep does the same work.
                log.exception("node sweep failed")


def install_nodes(ctx: Any) -> NodeService:
    """``ctx.services["nodes"]``: the control (the player API's active_cons adds its
    slots to the local engine's sessions)."""
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
    control = NodeControl(
        settings,
        ctx.db,
        ctx.events,
        access,
        PlayKeyRing(ctx.db, ctx.events),
        make_node_leases(settings),
        make_session_slots(settings),
    )
    ctx.services["nodes"] = control
    return NodeService(control)
