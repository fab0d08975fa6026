"""`palinsesto admin create-tenant` / `create-user` as real commands, on SQLite and
PostgreSQL: slugs, usernames and names with hidden characters are refused, nothing stored."""

from __future__ import annotations

from pathlib import Path

from support.cli_runner import Cli

RLO, ZWSP = "\u202e", "\u200b"


def test_cli_refuses_hidden_characters_in_slugs_usernames_and_names(
    database_url: str, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "data", database_url)
    for args in (
        ["create-tenant", f"acme{RLO}"],
        ["create-tenant", "acme", "--name", f"Acme{ZWSP}TV"],
        ["create-user", f"ad{RLO}min", "--role", "platform_admin", "--password", "pw-12345678"],
    ):
        done = cli.run("admin", *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "only" in done.stderr or "invisible" in done.stderr, done.stderr
    assert cli.count("tenants") == 0
    assert cli.count("admin_users", "username <> 'admin'") == 0
    done = cli.run("admin", "create-tenant", "acme", "--name", "Acme Télé")
    assert done.returncode == 0, done.stderr
    assert cli.count("tenants") == 1
