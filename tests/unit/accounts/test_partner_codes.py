"""Partner codes: random, in one written form, and read back however people type them."""

from __future__ import annotations

from palinsesto.accounts.partner_codes import (
    ALPHABET,
    LENGTH,
    new_partner_code,
    normalise_partner_code,
)


def test_codes_are_random_groups_of_crockford_base32() -> None:
    codes = {new_partner_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) == LENGTH and code[4] == code[9] == "-"
        assert set(code.replace("-", "")) <= set(ALPHABET)
        assert normalise_partner_code(code) == code


def test_typing_is_forgiving_but_not_guessing() -> None:
    assert normalise_partner_code(" 7kqm 3xpa-9dtr ") == "7KQM-3XPA-9DTR"
    assert normalise_partner_code("7KQM3XPA9DTR") == "7KQM-3XPA-9DTR"
    # I and L read as 1, O as 0: the letters people take for those digits.
    assert normalise_partner_code("IL0O-0000-0000") == "1100-0000-0000"
    for wrong in ("", "7KQM-3XPA-9DT", "7KQM-3XPA-9DTRR", "7KQM-3XPA-9DTU", "7KQM-3XPA-9DT!"):
        assert normalise_partner_code(wrong) is None, wrong
