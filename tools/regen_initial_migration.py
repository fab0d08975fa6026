"""Regenerate the initial migration from the models (only before the first release).

Usage: .venv/bin/python tools/regen_initial_migration.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from palinsesto.db.migrate import MIGRATIONS, alembic_config

INITIAL = "0001_initial"


def main() -> None:
    versions = MIGRATIONS / "versions"
    for old in versions.glob(f"{INITIAL}*.py"):
        old.unlink()
    later = [p for p in versions.glob("*.py") if p.name != "__init__.py"]
    if later:
        raise SystemExit(f"later migrations exist ({later}); write a new revision instead")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{Path(tmp) / 'blank.db'}")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id=INITIAL)
    generated = next(versions.glob(f"{INITIAL}*.py"))
    target = versions / f"{INITIAL}.py"
    generated.rename(target)
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "format", "--quiet", str(target)], check=True)
    subprocess.run([*ruff, "check", "--fix", "--unsafe-fixes", "--quiet", str(target)], check=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
