"""``palinsesto watermark extract`` on input it cannot read: one clear sentence, a non-zero
exit, and nothing named (the reading itself: integration/media/test_watermark.py)."""

from __future__ import annotations

from pathlib import Path

from support.cli_runner import Cli


def test_missing_unreadable_and_empty_captures_are_refused_plainly(
    sqlite_url: str, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "data", sqlite_url)
    missing = cli.run("watermark", "extract", str(tmp_path / "nowhere.ts"))
    assert missing.returncode == 2 and "No such file" in missing.stderr, missing
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    unreadable = cli.run("watermark", "extract", str(text))
    assert unreadable.returncode == 2 and "Cannot read" in unreadable.stderr, unreadable
    assert "Traceback" not in unreadable.stderr + unreadable.stdout
    assert "session" not in unreadable.stdout
