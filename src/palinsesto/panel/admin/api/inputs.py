"""The base of every JSON body the admin API accepts.

An unknown field is refused with a 422 that names it, not silently dropped: a movie sent
with ``category_ids`` (a channel's field) or a private offer with a misspelt partner field
would otherwise be stored without what the caller meant, and the caller would never know.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
