"""A panel's partner code: what another panel's owner types to offer it a channel privately.

No route looks a tenant up by number or lists tenants (offers and syndications show the
other side's name and id only), so a private offer is addressed by a code the
receiving panel shows on its own pages and hands out itself (like a bank account number).
The code is random, 60 bits, so it cannot be guessed or enumerated; the panel may replace
it (the old one then addresses nothing). Written in Crockford's base32 in three groups of
four (``7KQM-3XPA-9DTR``); typing is forgiving: case, spaces and dashes do not matter, and
the letters people confuse with digits (I, L, O) read as those digits.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
GROUPS, GROUP_LENGTH = 3, 4
LENGTH = GROUPS * GROUP_LENGTH + GROUPS - 1  # with its dashes
_CONFUSED = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = str.maketrans("", "", " -_.")


def new_partner_code() -> str:
    chars = [secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH)]
    return "-".join(
        "".join(chars[i : i + GROUP_LENGTH]) for i in range(0, len(chars), GROUP_LENGTH)
    )


def normalise_partner_code(typed: str) -> str | None:
    """``typed`` in the stored form, or None when it cannot be a partner code at all."""
    bare = typed.upper().translate(_SEPARATORS).translate(_CONFUSED)
    if len(bare) != GROUPS * GROUP_LENGTH or any(c not in ALPHABET for c in bare):
        return None
    return "-".join(bare[i : i + GROUP_LENGTH] for i in range(0, len(bare), GROUP_LENGTH))
