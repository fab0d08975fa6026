"""The long-running servers' garbage-collector setting, applied once at start.

A server process holds a large, long-lived heap (the web app, its routes and models, the
ORM's mappers, caches) and allocates small short-lived objects per request. Python's
collector walks the long-lived objects again on every older-generation collection:
profiling ``bench/vod_range.py`` found about 15 % of the data plane's CPU in
``gc_collect_main``. :func:`settle_heap` moves what start-up built into the permanent
generation (``gc.freeze``), which the collector never walks; reference counting still
frees everything as usual, and cycles among new objects are still collected.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect once, then exempt everything alive from future collections."""
    gc.collect()
    gc.freeze()
