"""Movies and series (with seasons and episodes): the rules the catalog keeps."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.catalog.models import Category, CategoryKind, Episode, Season
from palinsesto.errors import AlreadyExists, InvalidValue

# Reference §4.4: the apps build /movie/U/P/ID.<ext>, so the extension is a short token.
CONTAINER_PATTERN = r"^[a-z0-9]{1,8}$"
DATE_PATTERN = r"^(\d{4}-\d{2}-\d{2})?$"


def check_category(
    session: Session, tenant_id: int, category_id: int | None, kind: CategoryKind
) -> None:
    """``category_id`` must be a ``kind`` category of the same tenant (or none)."""
    if category_id is None:
        return
    category = session.get(Category, category_id)
    if category is None or category.tenant_id != tenant_id or category.kind is not kind:
        raise InvalidValue(f"No {kind.value} category {category_id} in this tenant.", "category_id")


def check_season_free(
    session: Session, series_id: int, season_number: int, except_id: int | None = None
) -> None:
    stmt = select(Season.id).where(
        Season.series_id == series_id, Season.season_number == season_number
    )
    if except_id is not None:
        stmt = stmt.where(Season.id != except_id)
    if session.scalar(stmt) is not None:
        raise AlreadyExists(f"Season {season_number} exists.", "season_number")


def check_episode_free(
    session: Session,
    series_id: int,
    season_number: int,
    episode_num: int,
    except_id: int | None = None,
) -> None:
    stmt = select(Episode.id).where(
        Episode.series_id == series_id,
        Episode.season_number == season_number,
        Episode.episode_num == episode_num,
    )
    if except_id is not None:
        stmt = stmt.where(Episode.id != except_id)
    if session.scalar(stmt) is not None:
        raise AlreadyExists(
            f"Season {season_number} already has episode {episode_num}.", "episode_num"
        )
