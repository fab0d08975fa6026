"""Why a viewer is refused, as the HTTP status every stream surface answers (reference
§8.2, §9): the local data plane (panel/local_node/delivery.py) and admission through the
panel to a node (panel/nodes/front.py) read the same table. ``LineRefused``, the base of
the line refusals, comes last so that its subclasses keep their own status."""

from __future__ import annotations

from palinsesto.panel.playback.access import NotInBouquet, OwnerUnavailable, UnknownChannel
from palinsesto.panel.playback.admission import TooManyConnections
from palinsesto.panel.playback.lines import (
    BadCredentials,
    IpNotAllowed,
    ItemBlocked,
    LineInactive,
    LineRefused,
    LoginThrottled,
    OutputNotAllowed,
    UserAgentNotAllowed,
)
from palinsesto.panel.playback.rights_gate import ContentRefused

VIEWER_REFUSALS: list[tuple[type[Exception], int]] = [
    (BadCredentials, 401),
    (LineInactive, 403),
    (IpNotAllowed, 403),
    (UserAgentNotAllowed, 403),
    (OutputNotAllowed, 405),
    (UnknownChannel, 404),
    (NotInBouquet, 406),
    (TooManyConnections, 429),
    (LoginThrottled, 429),
    (ContentRefused, 451),  # RFC 7725: rights, territory, blackout; the body says which
    (ItemBlocked, 451),  # a notice decision blocked this item for this line (ITEM_BLOCKED)
    (OwnerUnavailable, 503),  # a syndicated channel whose owner is suspended: try later
    (LineRefused, 403),
]


def refusal_status(
    exc: Exception, table: list[tuple[type[Exception], int]] = VIEWER_REFUSALS
) -> int | None:
    """The status ``exc`` is answered with, or None when it is no refusal."""
    for cls, status in table:
        if isinstance(exc, cls):
            return status
    return None
