"""The rights and territory decision (trust/rights.py) and the GeoIP lookup (trust/geo.py)
against the shared MaxMind test databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from palinsesto.trust.geo import CountryLookup, GeoDatabaseError
from palinsesto.trust.rights import (
    Blackout,
    BlackoutAction,
    ItemRules,
    Licence,
    Refusal,
    RightsStatus,
    Viewer,
    expiry_bucket,
    normalise_countries,
    refusal,
)

MMDB = Path("/work/shared/geoip-test-mmdb")
NOW = 1_800_000_000.0
DAY = 86400.0


def decide(rules: ItemRules, country: str | None = "IT", *, required: bool = True, **kw: float):  # noqa: ANN201
    viewer = None if country == "-" else Viewer(country)
    return refusal(rules, rights_required=required, now=kw.get("now", NOW), viewer=viewer)


def test_rights_need_a_current_active_record_when_required() -> None:
    current = Licence(NOW - DAY, NOW + DAY, frozenset())
    assert decide(ItemRules()) is Refusal.rights_missing
    assert decide(ItemRules(), required=False) is None
    assert decide(ItemRules((current,))) is None
    assert decide(ItemRules((current,)), now=NOW + DAY) is Refusal.rights_expired  # end excluded
    assert decide(ItemRules((current,)), now=NOW - DAY - 1) is Refusal.rights_expired
    suspended = Licence(NOW - DAY, None, frozenset(), RightsStatus.suspended)
    assert decide(ItemRules((suspended,))) is Refusal.rights_expired
    assert decide(ItemRules((suspended, current))) is None  # any current record will do
    italy_only = ItemRules((Licence(NOW - DAY, None, frozenset({"IT"})),))
    assert decide(italy_only, "IT") is None
    assert decide(italy_only, "FR") is Refusal.rights_territory
    assert decide(italy_only, None) is Refusal.rights_territory
    assert decide(italy_only, "-") is None  # the catalogue: territory is decided per play


def test_territory_rules_and_blackouts() -> None:
    allowed = ItemRules(allowed=frozenset({"GB"}), deny_unknown=True)
    assert decide(allowed, "GB", required=False) is None
    assert decide(allowed, "SE", required=False) is Refusal.geo_blocked
    assert decide(allowed, None, required=False) is Refusal.geo_unknown
    blocked = ItemRules(blocked=frozenset({"GB"}))
    assert decide(blocked, "GB", required=False) is Refusal.geo_blocked
    assert decide(blocked, None, required=False) is None  # unknown allowed unless denied
    window = Blackout(NOW, NOW + 3600, frozenset({"US"}))
    rules = ItemRules(blackouts=(window,))
    assert decide(rules, "US", required=False) is Refusal.blackout
    assert decide(rules, "US", required=False, now=NOW - 1) is None
    assert decide(rules, "US", required=False, now=NOW + 3600) is None
    assert decide(rules, "CA", required=False) is None
    assert decide(rules, "-", required=False) is None  # a slate blackout keeps the listing
    hidden = ItemRules(blackouts=(Blackout(NOW, NOW + 60, frozenset(), BlackoutAction.hidden),))
    assert decide(hidden, "-", required=False) is Refusal.blackout
    assert sorted(hidden.boundaries()) == [NOW, NOW + 60]
    assert not ItemRules().territorial and allowed.territorial and rules.territorial


def test_countries_and_expiry_alert_buckets() -> None:
    assert normalise_countries([" gb", "SE", "gb"]) == ["GB", "SE"]
    for bad in ("GBR", "1A", "", "é1"):
        with pytest.raises(ValueError, match="ISO 3166"):
            normalise_countries([bad])
    assert expiry_bucket(NOW + 29 * DAY, NOW) == 30
    assert expiry_bucket(NOW + 6 * DAY, NOW) == 7
    assert expiry_bucket(NOW + 3600, NOW) == 1
    assert expiry_bucket(NOW + 31 * DAY, NOW) is None
    assert expiry_bucket(NOW - 1, NOW) is None and expiry_bucket(None, NOW) is None


@pytest.mark.parametrize("name", ["GeoLite2-Country-Test.mmdb", "GeoLite2-City-Test.mmdb"])
def test_country_lookup_reads_country_and_city_files(name: str) -> None:
    geo = CountryLookup(str(MMDB / name))
    assert geo.country("81.2.69.160") == "GB"  # registered US: the use country wins
    assert geo.country("1.1.1.1") is None
    assert geo.country("not-an-ip") is None
    assert geo.country("81.2.69.160") == "GB"  # from the memo


def test_country_lookup_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "x.mmdb"
    bogus.write_bytes(b"not a maxmind db")
    with pytest.raises(GeoDatabaseError, match="cannot open GeoIP database"):
        CountryLookup(str(bogus))
    with pytest.raises(GeoDatabaseError):
        CountryLookup(str(tmp_path / "missing.mmdb"))
