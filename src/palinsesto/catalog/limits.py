"""Bounds on catalogue values, shared by everything that writes them (the admin API, the
M3U import): one place, so that an import cannot store what the API would refuse."""

from __future__ import annotations

CHANNEL_NAME_MAX = 200
CHANNEL_NUMBER_MAX = 1_000_000
ARCHIVE_DAYS_MAX = 365
EPG_CHANNEL_ID_MAX = 200
CATEGORY_NAME_MAX = 200
CATEGORIES_PER_CHANNEL_MAX = 100
MOVIE_NAME_MAX = 300
IMAGE_URL_MAX = 1000  # logos, movie posters
SOURCE_URL_MAX = 2000
