"""M3U import benchmark: ``palinsesto import m3u`` on a generated 100,000-entry playlist.

    .venv/bin/python bench/m3u_import.py [--entries 100000] [--database-url URL]

Prints, each measured on a fresh process (time and peak RSS from ``wait4``):

* baseline: the same playlist read and parsed alone (``M3UReader`` over its lines, no
  database), in a process that imports the same modules as the command;
* the import into an empty tenant (target: bounded memory, ≤ 200 MB at the 50 MB size
  limit), and a re-import of the same file (every entry matched, nothing changes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.peak_rss import run_measured  # noqa: E402

BIN = Path(sys.executable).with_name("palinsesto")

PARSE_ONLY = """
import sys
from palinsesto.catalog import m3u_import  # the same imports as the command
from palinsesto.catalog.m3u_fetch import playlist_lines
from palinsesto.catalog.m3u_reader import M3UReader
from palinsesto.outbound import OutboundPolicy
entries = errors = 0
lines = playlist_lines(sys.argv[1], OutboundPolicy())  # a local file: the policy is not asked
for item in M3UReader().read(lines):
    if hasattr(item, "url"):
        entries += 1
    else:
        errors += 1
print(entries, errors)
"""


def write_playlist(path: Path, entries: int) -> None:
    """A provider-like playlist: ~200 groups, numbers on half the entries, a few
    entries with two groups, logos and EPG ids on all."""
    with path.open("w", encoding="utf-8") as out:
        out.write('#EXTM3U x-tvg-url="http://epg.example.net/guide.xml"\n')
        for i in range(entries):
            group = f"Group {i % 200:03d}" + (";HD" if i % 10 == 0 else "")
            chno = f' tvg-chno="{i + 1}"' if i % 2 == 0 else ""
            out.write(
                f'#EXTINF:-1 tvg-id="ch{i}.example" tvg-name="Channel {i}"'
                f' tvg-logo="http://img.example.net/logos/{i}.png"{chno}'
                f' group-title="{group}" catchup="xc" catchup-days="{i % 8}",Channel {i}\n'
                f"http://tv.example.net:8080/live/user/pass/{i}.ts\n"
            )


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``argv``; return (seconds, its own peak RSS in MB, stdout)."""
    code, seconds, rss, out, err = run_measured(argv, env)
    if code != 0:
        raise SystemExit(f"{argv[0]} failed ({code}): {err[-2000:]}")
    return seconds, rss, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from palinsesto.accounts.bootstrap import ensure_tenant
    from palinsesto.db import Database, upgrade

    with tempfile.TemporaryDirectory() as tmp:
        playlist = Path(tmp) / "provider.m3u"
        write_playlist(playlist, args.entries)
        database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
        upgrade(database_url)
        db = Database(database_url)
        with db.transaction() as session:
            ensure_tenant(session, "bench", "Bench")
        db.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
        env.update(
            PALINSESTO_DATA_DIR=tmp,
            PALINSESTO_DATABASE_URL=database_url,
            PALINSESTO_SECRET_KEY="bench-secret-" + "x" * 32,
        )
        size_mb = playlist.stat().st_size / 1024**2
        print(f"playlist: {args.entries} entries, {size_mb:.1f} MB")
        seconds, rss, out = measure([sys.executable, "-c", PARSE_ONLY, str(playlist)], env)
        print(f"baseline, parse only : {seconds:6.1f} s  peak RSS {rss:6.0f} MB  ({out})")
        command = [str(BIN), "import", "m3u", str(playlist), "--tenant", "bench"]
        for label in ("import", "re-import"):
            seconds, rss, out = measure(command, env)
            print(f"{label:<20} : {seconds:6.1f} s  peak RSS {rss:6.0f} MB  ({out})")


if __name__ == "__main__":
    main()
