"""Schemathesis drives every operation in /api/v1/openapi.json as a tenant owner, and
Hypothesis drives player_api.php (which no OpenAPI document describes): no 500s, on
SQLite and on PostgreSQL (which refuses more: int4 ids, NUL in text).

Each operation gets a bounded number of generated cases so the run stays near a minute
per backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from palinsesto.panel.playback.player_api import EMPTY_RESULTS, NUMERIC_ACTIONS
from support.admin_api import created, make_tenant
from support.databases import BACKENDS, temporary_database
from support.player_catalog import PASSWORD, Catalog, populate
from support.server import RunningServer, make_settings, run_server

# Cases per operation: valid requests, and requests that break the schema (must be 4xx).
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 5, schemathesis.GenerationMode.NEGATIVE: 4}
PLAYER_EXAMPLES = 400


@dataclass
class FuzzTarget:
    server: RunningServer
    headers: dict[str, str]
    catalog: Catalog


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    tmp_path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with temporary_database(request.param, tmp_path) as url:
        # Wrong credentials are part of the fuzz: no sign-in throttle to hide what follows.
        fuzz_settings = make_settings(tmp_path, url, login_max_failures=1_000_000)
        with run_server(fuzz_settings) as server:
            world = make_tenant(server, "fuzz")
            with world.client() as c:
                # Something to find: ids 1..n exist for most resources.
                cat = created(c.post("/api/v1/categories", json={"kind": "live", "name": "L"}))
                created(c.post("/api/v1/channels", json={"name": "C", "category_ids": [cat["id"]]}))
                created(c.post("/api/v1/bouquets", json={"name": "B"}))
                series = created(c.post("/api/v1/series", json={"name": "S"}))
                created(
                    c.post(
                        f"/api/v1/series/{series['id']}/episodes",
                        json={"season_number": 1, "episode_num": 1, "title": "E"},
                    )
                )
            catalog = populate(server.ctx.db)  # tenant "acme" and lines, for player_api.php
            token = world.users["owner"].token
            yield FuzzTarget(server, {"Authorization": f"Bearer {token}"}, catalog)


def test_no_server_errors(fuzz_target: FuzzTarget) -> None:
    schema = schemathesis.openapi.from_url(
        f"{fuzz_target.server.base_url}/api/v1/openapi.json", headers=fuzz_target.headers
    )
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    assert any(op.path == "/api/v1/watch/{ref}" for op in operations)
    runs = [(op, mode) for op in operations for mode in schemathesis.GenerationMode]
    for operation, mode in runs:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:
            response = case.call(base_url=fuzz_target.server.base_url, headers=fuzz_target.headers)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            exercise()
        except Unsatisfiable:
            continue  # nothing in this operation can be made invalid (e.g. no parameters)
        except Exception as exc:  # collect every failing operation, then report them all
            failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


# What apps send player_api.php: any action (by name or number), ids, paging and limits
# as integers of any size or as any text, and credentials that may be wrong or odd.
_ACTIONS = st.sampled_from([*EMPTY_RESULTS, *NUMERIC_ACTIONS, "", "get_account_info"])
_NUMBERISH = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**31 - 2, max_value=2**64).map(str),
    st.text(max_size=24),
    st.text(alphabet="0123456789\u0660\u0661\u06f1\uff11_-+ ", max_size=24),
)
_ODD_TEXT = st.one_of(st.text(max_size=20), st.sampled_from(["ali\x00ce", "\x00", "\u0661"]))


def _player_params(catalog: Catalog) -> st.SearchStrategy[dict[str, str]]:
    """Ids are often real ones (so the guide and catalogue are queried with the rest)."""

    def real_or(ids: dict[str, int]) -> st.SearchStrategy[str]:
        return st.one_of(st.sampled_from(sorted(str(i) for i in ids.values())), _NUMBERISH)

    return st.fixed_dictionaries(
        {"action": _ACTIONS},
        optional={
            "username": st.one_of(st.just("alice"), _ODD_TEXT),
            "password": st.one_of(st.just(PASSWORD), _ODD_TEXT),
            "stream_id": real_or(catalog.channels),
            "category_id": real_or(catalog.cats),
            "vod_id": real_or(catalog.movies),
            "series_id": real_or(catalog.series),
            "limit": _NUMBERISH,
            "from_now": _NUMBERISH,
            "params[offset]": _NUMBERISH,
            "params[items_per_page]": _NUMBERISH,
        },
    )


def test_player_api_never_fails_with_a_server_error(fuzz_target: FuzzTarget) -> None:
    failures: list[str] = []

    with httpx.Client(base_url=fuzz_target.server.base_url, timeout=30) as client:

        @given(params=_player_params(fuzz_target.catalog), method=st.sampled_from(["GET", "POST"]))
        @settings(
            max_examples=PLAYER_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(params: dict[str, str], method: str) -> None:
            # Credentials default to a real line, so the catalogue actions are reached.
            params = {"username": "alice", "password": PASSWORD, **params}
            if method == "GET":
                r = client.get("/player_api.php", params=params)
            else:
                r = client.post("/player_api.php", data=params)
            if r.status_code >= 500:
                failures.append(f"{method} {params!r}: {r.status_code} {r.text[:200]}")

        exercise()
    assert not failures, "\n".join(failures[:20])
