"""Bounded field types shared by the resources, so that no value reaches the database
that it would reject (ids fit a 32-bit integer column on every backend), and the one
check that keeps NUL characters out of every text the API receives."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Path, Query, Request
from pydantic import AfterValidator, Field

from palinsesto.panel.admin.api.errors import ValidationFailed

# PostgreSQL's ``integer`` (int4): the id columns and every integer an id is compared with.
MAX_ID = 2_147_483_647

# Strict: an id in a JSON body is a JSON integer (true, "5" and 5.0 are refused).
ObjectId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
# A viewing session's id: not a database row; node sessions' ids are clock-based and
# outgrow int4 (cluster/session_slots.py). Bounded to what a JavaScript number holds.
SessionId = Annotated[int, Path(ge=1, le=2**53)]
# An optional id filter in a query string: ``tenant_id: QueryId = None``.
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Url = Annotated[str, Field(max_length=1000)]
Text = Annotated[str, Field(max_length=10_000)]


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            "Use a time zone name such as Europe/Rome, America/New_York or UTC."
        ) from None
    return value


# One "@", something before it, a dot in the domain, no spaces: what people mistype (a
# missing "@", a comma for a dot) is caught; deliverability is the mail server's to judge.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def _email(value: str) -> str:
    if value and not _EMAIL.fullmatch(value):
        raise ValueError("Use an e-mail address such as name@example.com.")
    return value


TimeZone = Annotated[
    str, Field(min_length=1, max_length=64, examples=["Europe/Rome"]), AfterValidator(_time_zone)
]
# Empty means "none given".
EmailAddress = Annotated[
    str, Field(max_length=255, examples=["name@example.com"]), AfterValidator(_email)
]

NUL = "\x00"
NUL_MESSAGE = "Must not contain NUL characters."
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def nul_paths(value: Any, path: str = "") -> Iterator[str]:
    """Dotted paths (``sources.0.url``) of the strings in a JSON value that hold a NUL;
    a key holding one is named by itself."""
    if isinstance(value, str):
        if NUL in value:
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                yield name
            yield from nul_paths(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nul_paths(item, f"{path}.{index}" if path else str(index))


# A route marked with this in its ``openapi_extra`` reads its body as a stream of bytes
# (an upload's chunk, up to tens of MiB): the NUL check must not read it into memory first.
STREAMED_BODY = {"x-body": "streamed bytes"}


def streams_body(request: Request) -> bool:
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    return bool(extra.get("x-body") == STREAMED_BODY["x-body"])


async def refuse_nul(request: Request) -> None:
    """Refuse (422, naming the field) any path, query, JSON or form text holding a NUL.

    PostgreSQL cannot store or even compare text with NUL in it (the driver raises), and
    no name, URL or note needs one; refusing it here covers every route, old and new.
    Uploaded files are documents, not text fields, and are left to their own checks.
    """
    fields: dict[str, str] = {}
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            fields[name] = NUL_MESSAGE
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            fields[name] = NUL_MESSAGE
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if streams_body(request):
        # A file's bytes, whatever type the client named: `curl --data-binary @film.mp4`
        # sends them as a form, and parsing one would refuse the chunk ("Too many fields").
        pass
    elif content_type.startswith(_FORM_TYPES):
        form = await request.form()
        for name, item in form.multi_items():
            if isinstance(item, str) and (NUL in name or NUL in item):
                fields[name] = NUL_MESSAGE
    elif request.method not in ("GET", "HEAD", "OPTIONS"):
        body = await request.body()
        # JSON can only carry a NUL escaped; skip the parse when there is none.
        if b"\\u0000" in body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None  # malformed bodies are the route's own 422
            fields.update(dict.fromkeys(nul_paths(parsed), NUL_MESSAGE))
    if fields:
        raise ValidationFailed("Text fields must not contain NUL characters.", fields=fields)
