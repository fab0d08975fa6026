"""The supervisor with scripted ``python -c`` children (no ffmpeg needed)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from palinsesto.node.supervisor import Backoff, Progress, Supervisor

PY = sys.executable


async def test_progress_lines_are_parsed_and_log_lines_kept() -> None:
    script = (
        "import sys\n"
        "sys.stderr.write('frame=50\\nfps=25.0\\nbitrate= 800.5kbits/s\\nspeed=1.01x\\n"
        "progress=continue\\n[tcp @ 0x1] Connection refused\\n')\n"
        "sys.stdout.write('payload')\n"
    )
    seen: list[Progress] = []
    sup = Supervisor()
    child = await sup.spawn([PY, "-c", script], on_progress=lambda p: seen.append(p))
    data = await child.stdout.read()
    assert await child.wait() == 0
    assert data == b"payload"
    assert seen and seen[-1].frame == 50 and seen[-1].fps == 25.0
    assert seen[-1].bitrate_kbps == 800.5 and seen[-1].speed == 1.01
    assert child.last_message() == "[tcp @ 0x1] Connection refused"


async def test_stop_kills_the_whole_group_even_if_term_is_ignored() -> None:
    # The child ignores SIGTERM and starts a grandchild; both must be gone after stop().
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"p = subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(60)'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    sup = Supervisor()
    child = await sup.spawn([PY, "-c", script])
    grandchild = int((await child.stdout.readline()).decode())
    assert sup.running == 1
    started = time.monotonic()
    rc = await child.stop(grace=0.3)
    assert rc != 0 and time.monotonic() - started < 3
    await asyncio.sleep(0.1)
    try:
        os.kill(grandchild, 0)
        # A zombie reparented to init may linger briefly; it must at least be dead soon.
        await asyncio.sleep(0.5)
        with open(f"/proc/{grandchild}/stat") as fh:
            assert fh.read().split()[2] in {"Z", "X"}
    except (ProcessLookupError, FileNotFoundError):
        pass
    assert sup.running == 0


async def test_run_times_out_a_hanging_child_and_reports_exit_codes() -> None:
    sup = Supervisor()
    rc, _ = await sup.run([PY, "-c", "import time; time.sleep(30)"], timeout=0.3)
    assert rc != 0
    rc, message = await sup.run(
        [PY, "-c", "import sys; sys.stderr.write('boom: bad input\\n'); sys.exit(3)"], 5
    )
    assert (rc, message) == (3, "boom: bad input")


async def test_stdin_is_piped_when_asked() -> None:
    sup = Supervisor()
    child = await sup.spawn(
        [PY, "-c", "import sys; sys.stdout.write(sys.stdin.read()[::-1])"], stdin=True
    )
    assert child.stdin is not None
    child.stdin.write(b"abc")
    await child.stdin.drain()
    child.stdin.close()
    assert await child.stdout.read() == b"cba"
    await child.wait()


async def test_stop_all_stops_every_child() -> None:
    sup = Supervisor()
    for _ in range(3):
        await sup.spawn([PY, "-c", "import time; time.sleep(30)"])
    assert sup.running == 3
    await sup.stop_all(grace=0.5)
    assert sup.running == 0


def test_backoff_doubles_to_a_cap_and_resets() -> None:
    b = Backoff(0.5, 3.0)
    assert [b.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next_delay() == 0.5


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in {"Z", "X"}
    except FileNotFoundError:
        return True


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read()
    except OSError:
        return b""


async def test_children_die_with_a_crashed_parent() -> None:
    # A parent process runs a Supervisor with one long child, then is SIGKILLed: no stop(),
    # no cleanup. The kernel must kill the child (PR_SET_PDEATHSIG), not leave it running.
    parent_script = (
        "import asyncio, sys\n"
        "from palinsesto.node.supervisor import Supervisor\n"
        "async def main():\n"
        "    sup = Supervisor()\n"
        "    child = await sup.spawn([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "    print(child.pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    parent = await asyncio.create_subprocess_exec(
        PY, "-c", parent_script, stdout=asyncio.subprocess.PIPE
    )
    assert parent.stdout is not None
    child_pid = int((await asyncio.wait_for(parent.stdout.readline(), 20)).decode())
    try:
        # The death signal is armed by setpriv before it execs the child: wait until the
        # child really runs (its whole command line is the sleeper's: before the execs it
        # is the parent's, then setpriv's, and both contain the sleeper's code too), or
        # the kill could race it.
        sleeper = b"\0".join([PY.encode(), b"-c", b"import time; time.sleep(60)"]) + b"\0"
        started = time.monotonic() + 10
        while _cmdline(child_pid) != sleeper:
            assert time.monotonic() < started, "the child never started"
            await asyncio.sleep(0.02)
        parent.kill()
        await parent.wait()
        deadline = time.monotonic() + 10
        while not _gone(child_pid):
            assert time.monotonic() < deadline, "the child outlived its parent"
            await asyncio.sleep(0.05)
    finally:
        if not _gone(child_pid):
            os.kill(child_pid, signal.SIGKILL)
