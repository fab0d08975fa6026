"""PATCH bodies: the fields a request sets, and setting them on the row it edits."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel


def patch_changes(body: BaseModel, nullable: Collection[str] = ()) -> dict[str, Any]:
    """The fields ``body`` sets. An explicit null means "leave as is", except for the
    ``nullable`` fields, where it clears the stored value."""
    return {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k in nullable
    }


def apply_changes(obj: Any, changes: Mapping[str, Any]) -> None:
    """Set each changed field on ``obj``."""
    for key, value in changes.items():
        setattr(obj, key, value)
