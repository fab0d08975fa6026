"""Schemathesis drives every operation in /api/v1/openapi.json as a tenant owner: no 500s.

One SQLite server for the whole module (this is about the API surface, not storage).
Each operation gets a bounded number of generated cases so the run stays near a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from support.admin_api import created, make_tenant
from support.databases import temporary_database
from support.server import RunningServer, make_settings, run_server

# Cases per operation: valid requests, and requests that break the schema (must be 4xx).
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 10, schemathesis.GenerationMode.NEGATIVE: 7}


@dataclass
class FuzzTarget:
    server: RunningServer
    headers: dict[str, str]


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    tmp_path = tmp_path_factory.mktemp("fuzz")
    with temporary_database("sqlite", tmp_path) as url:
        with run_server(make_settings(tmp_path, url)) as server:
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
            token = world.users["owner"].token
            yield FuzzTarget(server, {"Authorization": f"Bearer {token}"})


def test_no_server_errors(fuzz_target: FuzzTarget) -> None:
    schema = schemathesis.openapi.from_url(
        f"{fuzz_target.server.base_url}/api/v1/openapi.json", headers=fuzz_target.headers
    )
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
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
