"""Bounded field types shared by the resources, so that no value reaches the database
that it would reject (ids fit a 32-bit integer column on every backend)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

MAX_ID = 2_147_483_647

# Strict: an id in a JSON body is a JSON integer (true, "5" and 5.0 are refused).
ObjectId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
# An optional id filter in a query string: ``tenant_id: QueryId = None``.
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Url = Annotated[str, Field(max_length=1000)]
Text = Annotated[str, Field(max_length=10_000)]
