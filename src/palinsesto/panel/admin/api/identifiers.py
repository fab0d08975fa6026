"""Names in API bodies: :data:`Label` refuses invisible characters (see palinsesto.names)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from palinsesto.names import hidden_character, refuse_hidden

__all__ = ["Label", "hidden_character", "refuse_hidden"]

# ``name: Label = Field(min_length=1, max_length=200)``
Label = Annotated[str, AfterValidator(refuse_hidden)]
