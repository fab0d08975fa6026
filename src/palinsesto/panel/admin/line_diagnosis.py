""" "Why can't this line play?": the facts about a line, turned into sentences with a fix.

Pure: the route gathers the facts (the line, its tenant, its bouquets' contents, its open
connections) and this module decides what each means for a viewer's player. The checks
mirror what the player API refuses (panel/playback): a banned, disabled or expired line,
a suspended tenant, an output the line may not use, an address or player lock, the
connection limit; plus what is not a refusal but still plays nothing (no bouquet, empty
bouquets).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from palinsesto.accounts.lines import LineOutput, LineStatus
from palinsesto.accounts.models import ConnectionPolicy, TenantStatus

EXPIRES_SOON = timedelta(days=3)
OUTPUT_NAMES = {LineOutput.ts: "TS", LineOutput.m3u8: "HLS (m3u8)", LineOutput.rtmp: "RTMP"}


class Level(enum.StrEnum):
    problem = "problem"  # the line cannot play (or plays nothing) until this is fixed
    warning = "warning"  # it plays, but some players or places are refused
    ok = "ok"


@dataclass(frozen=True, slots=True)
class BouquetContents:
    name: str
    channels: int
    movies: int
    series: int

    @property
    def empty(self) -> bool:
        return not (self.channels or self.movies or self.series)


@dataclass(frozen=True, slots=True)
class LineFacts:
    status: LineStatus
    exp_date: datetime | None
    now: datetime
    tenant_name: str
    tenant_status: TenantStatus
    connection_policy: ConnectionPolicy
    bouquets: list[BouquetContents]
    allowed_outputs: list[str]
    allowed_ips: list[str]
    allowed_user_agents: list[str]
    connections: int
    max_connections: int  # 0 = unlimited


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    code: str
    message: str
    fix: str = ""


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y, %H:%M UTC")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _state_findings(facts: LineFacts) -> list[Finding]:
    found: list[Finding] = []
    if facts.tenant_status is TenantStatus.suspended:
        found.append(
            Finding(
                Level.problem,
                "tenant_suspended",
                f"The service “{facts.tenant_name}” is suspended: none of its lines play.",
                "Ask the platform administrator to reactivate the service.",
            )
        )
    elif facts.tenant_status is TenantStatus.pending:
        found.append(
            Finding(
                Level.problem,
                "tenant_pending",
                f"The service “{facts.tenant_name}” is waiting for approval: "
                "its lines play once it is approved.",
                "Ask the platform administrator to approve the service.",
            )
        )
    if facts.status is LineStatus.banned:
        found.append(
            Finding(
                Level.problem,
                "banned",
                "This line is banned: every player is refused.",
                "Edit the line and turn “Banned” off.",
            )
        )
    elif facts.status is LineStatus.disabled:
        found.append(
            Finding(
                Level.problem,
                "disabled",
                "This line is disabled: every player is refused.",
                "Edit the line and turn “Enabled” on.",
            )
        )
    elif facts.status is LineStatus.expired and facts.exp_date is not None:
        found.append(
            Finding(
                Level.problem,
                "expired",
                f"This line expired on {_when(facts.exp_date)}.",
                "Extend it: give it a later expiry date (resellers: “Extend with credits”).",
            )
        )
    elif facts.exp_date is not None and facts.exp_date - facts.now < EXPIRES_SOON:
        found.append(
            Finding(
                Level.warning,
                "expires_soon",
                f"This line expires soon, on {_when(facts.exp_date)}.",
                "Extend it before then so the viewer is not cut off.",
            )
        )
    return found


def _content_findings(facts: LineFacts) -> list[Finding]:
    if not facts.bouquets:
        return [
            Finding(
                Level.problem,
                "no_bouquet",
                "This line has no bouquet, so its playlist is empty.",
                "Edit the line and give it at least one bouquet.",
            )
        ]
    empty = [b.name for b in facts.bouquets if b.empty]
    if len(empty) == len(facts.bouquets):
        names = ", ".join(f"“{n}”" for n in empty)
        return [
            Finding(
                Level.problem,
                "bouquets_empty",
                f"Its {'bouquet' if len(empty) == 1 else 'bouquets'} {names} "
                "hold no channels, movies or series, so its playlist is empty.",
                "Add channels (or a whole category) to the bouquet on the Bouquets page.",
            )
        ]
    found: list[Finding] = []
    if empty:
        found.append(
            Finding(
                Level.warning,
                "some_bouquets_empty",
                "Some of its bouquets are empty: " + ", ".join(f"“{n}”" for n in empty) + ".",
                "Add channels to them, or take them off the line.",
            )
        )
    return found


def _limit_findings(facts: LineFacts) -> list[Finding]:
    found: list[Finding] = []
    outputs = [o for o in (LineOutput.ts, LineOutput.m3u8) if o.value not in facts.allowed_outputs]
    if len(outputs) == 2:
        found.append(
            Finding(
                Level.problem,
                "outputs",
                "This line may play neither TS nor HLS: apps and M3U players are refused.",
                "Edit the line and allow TS and HLS (m3u8) in “Allowed outputs”.",
            )
        )
    elif outputs:
        name = OUTPUT_NAMES[outputs[0]]
        found.append(
            Finding(
                Level.warning,
                "outputs",
                f"{name} is not allowed: a player set to {name} is refused.",
                f"Allow {name} in “Allowed outputs”, or set the player to the other format.",
            )
        )
    if facts.allowed_ips:
        found.append(
            Finding(
                Level.warning,
                "ip_lock",
                "It plays only from "
                + ("this address: " if len(facts.allowed_ips) == 1 else "these addresses: ")
                + ", ".join(facts.allowed_ips)
                + ".",
                "If the viewer moved or their address changed, edit “Allowed IPs”.",
            )
        )
    if facts.allowed_user_agents:
        found.append(
            Finding(
                Level.warning,
                "user_agent_lock",
                "It plays only in players that say they are: "
                + ", ".join(facts.allowed_user_agents)
                + ".",
                "If the viewer uses another app, edit “Allowed user agents”.",
            )
        )
    limit = facts.max_connections
    if limit and facts.connections >= limit:
        in_use = (
            "The one connection this line may open is in use"
            if limit == 1
            else f"All {limit} connections of this line are in use"
        )
        if facts.connection_policy is ConnectionPolicy.refuse:
            found.append(
                Finding(
                    Level.problem,
                    "connections_full",
                    f"{in_use}: another player is refused until one stops.",
                    "Stop a session on the Sessions page, or raise “Max connections”.",
                )
            )
        else:
            found.append(
                Finding(
                    Level.warning,
                    "connections_full",
                    f"{in_use}: another player will end the oldest one.",
                    "Raise “Max connections” if the viewer watches on more screens.",
                )
            )
    return found


def diagnose(facts: LineFacts) -> list[Finding]:
    """What stops this line from playing (problems first), or one "ok" finding saying what
    it plays."""
    found = _state_findings(facts) + _content_findings(facts) + _limit_findings(facts)
    found.sort(key=lambda f: f.level is not Level.problem)
    if not any(f.level is Level.problem for f in found):
        channels = sum(b.channels for b in facts.bouquets)
        vod = sum(b.movies + b.series for b in facts.bouquets)
        plays = _plural(channels, "channel") + (f" and {vod} movies or series" if vod else "")
        outputs = " and ".join(
            OUTPUT_NAMES[LineOutput(o)] for o in facts.allowed_outputs if o in OUTPUT_NAMES
        )
        found.insert(
            0,
            Finding(Level.ok, "can_play", f"This line can play: {plays}, as {outputs}."),
        )
    return found
