"""``palinsesto watermark extract FILE``: name the session (and line) a captured copy of a
watermarked channel was served to (protocol/watermark.py reads it, trust/watermark.py
names it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from palinsesto.cli.common import console, err_console, open_database, settings_or_exit
from palinsesto.node.ffmpeg import mark_reading_argv
from palinsesto.node.sei_tag import read_tags
from palinsesto.node.supervisor import Supervisor
from palinsesto.protocol.watermark import (
    SAMPLES_PER_SLOT,
    MarkParams,
    Reading,
    Verdict,
    block_signal,
    read_code,
)
from palinsesto.trust.models import WatermarkMark
from palinsesto.trust.watermark import marks_of_session, marks_with_code, slot_lengths

watermark_app = typer.Typer(help="The forensic watermark.", no_args_is_help=True)

EXIT_FOUND, EXIT_NONE, EXIT_AMBIGUOUS = 0, 1, 2
READ_BLOCK = 4 << 20


def sei_tags(path: Path) -> list[int]:
    """Session ids of the SEI tags in the file (TS viewers' copies, until re-encoded)."""
    found: list[int] = []
    tail = b""
    with path.open("rb") as f:
        while block := f.read(READ_BLOCK):
            data = tail + block
            found += read_tags(data)
            tail = data[-64:]  # a tag across two blocks is read whole from the next
    return list(dict.fromkeys(found))


def _named(mark: WatermarkMark) -> str:
    return (
        f"session {mark.session_id} line {escape(mark.username)} (line id {mark.line_id}, "
        f"tenant {mark.tenant_id}, channel {mark.channel_id}, {mark.output}, started "
        f"{mark.started_at:%Y-%m-%d %H:%M:%S} UTC)"
    )


async def _signal(ffmpeg: str, path: Path, slot_seconds: float, grid: int) -> list[float]:
    argv = mark_reading_argv(ffmpeg, str(path), grid, SAMPLES_PER_SLOT / slot_seconds)
    rc, data, message = await Supervisor().output(argv, timeout=600)
    if rc != 0:
        raise ValueError(message or f"ffmpeg exited with {rc}")
    size = grid * grid
    return [block_signal(data[i : i + size], grid) for i in range(0, len(data) - size + 1, size)]


def read_capture(ffmpeg: str, path: Path, slots: list[float]) -> tuple[Reading, float]:
    """The best reading of ``path`` over the slot lengths marked plays used."""
    grid = MarkParams().grid
    best: tuple[Reading, float] | None = None
    rank = {Verdict.found: 3, Verdict.ambiguous: 2, Verdict.none: 1, Verdict.too_short: 0}
    for slot in slots:
        reading = read_code(asyncio.run(_signal(ffmpeg, path, slot, grid)))
        key = (rank[reading.verdict], reading.snr)
        if best is None or key > (rank[best[0].verdict], best[0].snr):
            best = (reading, slot)
    assert best is not None
    return best


@watermark_app.command("extract")
def extract(
    file: Annotated[Path, typer.Argument(help="A captured copy (any format ffmpeg reads).")],
    tenant: Annotated[int | None, typer.Option(help="Only this tenant's plays.")] = None,
    slot: Annotated[
        float | None, typer.Option(help="Slot length in seconds (default: those recorded).")
    ] = None,
) -> None:
    """Name the session and line a captured copy was served to.

    A TS viewer's copy that was not re-encoded also carries its session's SEI tag, which
    names it exactly ("SEI tag: ..."). The A/B mark survives re-encoding: exits 0 with the
    session when it reads clearly, 2 when it is "ambiguous" (a mark-like signal, not clear
    enough to name anyone), 1 when there is no watermark (and no tag).
    """
    if not file.is_file():
        err_console.print(f"[red]No such file:[/red] {escape(str(file))}")
        raise typer.Exit(2)
    settings = settings_or_exit()
    db = open_database(settings)
    try:
        tagged = False
        with db.session() as session:
            for session_id in sei_tags(file):
                for mark in marks_of_session(session, session_id, tenant):
                    console.print(f"SEI tag: {_named(mark)}", soft_wrap=True)
                    tagged = True
            slots = [slot] if slot else slot_lengths(session)
        slots = slots or [settings.watermark_slot_seconds]
        try:
            reading, used = read_capture(settings.resolve_ffmpeg(), file, slots)
        except ValueError as exc:
            err_console.print(f"[red]Cannot read {escape(str(file))}:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        facts = f"(snr {reading.snr}, weakest bit {reading.weakest_bit}, agreement "
        facts += f"{reading.agreement}, {reading.slots} slots"
        facts += f" of {used:g} s)"
        if reading.verdict is Verdict.too_short:
            console.print(f"ambiguous: the capture is too short {facts}", soft_wrap=True)
            raise typer.Exit(EXIT_FOUND if tagged else EXIT_AMBIGUOUS)
        if reading.verdict is Verdict.none:
            console.print(f"no watermark {facts}", soft_wrap=True)
            raise typer.Exit(EXIT_FOUND if tagged else EXIT_NONE)
        if reading.verdict is Verdict.ambiguous or reading.code is None:
            console.print(f"ambiguous {facts}", soft_wrap=True)
            raise typer.Exit(EXIT_FOUND if tagged else EXIT_AMBIGUOUS)
        with db.session() as session:
            marks = marks_with_code(session, reading.code, tenant)
            if not marks:
                console.print(f"ambiguous: code {reading.code} names no play {facts}")
                raise typer.Exit(EXIT_FOUND if tagged else EXIT_AMBIGUOUS)
            for mark in marks:
                console.print(f"{_named(mark)} code {reading.code} {facts}", soft_wrap=True)
    finally:
        db.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(watermark_app, name="watermark")
