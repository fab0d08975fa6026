"""Vocabulary for synthetic catalogs: category names and makers of realistic-looking names.

Pure functions of a seeded :class:`random.Random`; :mod:`palinsesto.catalog.demo_data`
decides how many rows to make and writes them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Live categories with the words channel names in them are built from, and a weight
# (how many channels of a real lineup fall into each).
LIVE_CATEGORIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "General": (14, ("One", "Two", "Tre", "Prime", "Central", "First")),
    "News": (8, ("News", "News 24", "Info", "Headlines", "World News")),
    "Sports": (7, ("Sport", "Sport 2", "Sports Extra", "Arena", "Action")),
    "Football": (4, ("Football", "Calcio", "Goal", "Soccer Live")),
    "Motorsport": (2, ("Motors", "Racing", "Speed")),
    "Movies": (7, ("Cinema", "Cinema Action", "Cinema Classic", "Film", "Premiere")),
    "Series": (5, ("Series", "Drama", "Crime", "Serie")),
    "Kids": (5, ("Kids", "Junior", "Cartoons", "Toons", "Baby")),
    "Documentary": (5, ("Discovery", "History", "Explorer", "Geo", "Wild")),
    "Music": (5, ("Music", "Hits", "Rock", "Dance", "Classica")),
    "Entertainment": (6, ("Entertainment", "Comedy", "Life", "Plus", "Fun")),
    "Lifestyle": (3, ("Style", "Home", "Garden", "Fashion")),
    "Cooking": (2, ("Food", "Kitchen", "Gusto")),
    "Travel": (2, ("Travel", "Voyage", "Escape")),
    "Science": (2, ("Science", "Tech", "Lab")),
    "Religious": (1, ("Faith", "Hope", "Light")),
    "Regional": (4, ("Regional", "Local", "Metro", "City")),
    "Weather": (1, ("Weather", "Meteo")),
    "Shopping": (1, ("Shop", "Market", "Deals")),
    "Business": (2, ("Business", "Finance", "Markets")),
    "Radio": (2, ("Radio", "FM", "Radio Hits")),
    "4K UHD": (1, ("UHD", "4K Showcase", "Ultra")),
    "Nature": (2, ("Nature", "Planet", "Animals")),
    "Events PPV": (1, ("Event", "PPV", "Live Event")),
}
SPORTS_CATEGORIES = frozenset({"Sports", "Football", "Motorsport", "Events PPV"})
KIDS_LIVE_CATEGORIES = frozenset({"Kids"})

MOVIE_CATEGORIES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Family",
    "Fantasy",
    "History",
    "Horror",
    "Music",
    "Mystery",
    "Romance",
    "Science Fiction",
    "Thriller",
    "War",
    "Western",
)
KIDS_MOVIE_CATEGORIES = frozenset({"Animation", "Family"})

SERIES_CATEGORIES: tuple[str, ...] = (
    "Drama Series",
    "Comedy Series",
    "Crime Series",
    "Sci-Fi Series",
    "Kids Series",
    "Documentary Series",
    "Reality",
    "Anime",
    "Soap",
    "Miniseries",
)
KIDS_SERIES_CATEGORIES = frozenset({"Kids Series", "Anime"})

COUNTRIES = ("UK", "IT", "FR", "DE", "ES", "PT", "NL", "US", "CA", "BR", "AR", "MX")
BRANDS = (
    "Nova", "Stella", "Aurora", "Vega", "Orion", "Delta", "Prima", "Metro", "Capital",
    "Atlas", "Zenith", "Polaris", "Lumen", "Fusion", "Horizon", "Falcon", "Azure", "Crimson",
    "Emerald", "Golden", "Silver", "Comet", "Solar", "Lunar", "Alpine", "Coastal", "Liberty",
    "Union", "Pioneer", "Summit",
)  # fmt: skip
QUALITIES = ("", " HD", " HD", " FHD", " SD", " 4K")

ADJECTIVES = (
    "Silent", "Broken", "Hidden", "Last", "Dark", "Golden", "Crimson", "Frozen", "Lost",
    "Burning", "Endless", "Forgotten", "Wild", "Quiet", "Distant", "Electric", "Hollow",
    "Iron", "Midnight", "Northern", "Pale", "Restless", "Secret", "Shattered", "Stolen",
    "Sudden", "Twisted", "Velvet", "Wandering", "Savage", "Bright", "Cold", "Deep", "Final",
    "Fallen", "Grand", "Lucky", "Open", "Red", "Second",
)  # fmt: skip
NOUNS = (
    "Harbor", "River", "Empire", "Garden", "Signal", "Promise", "Kingdom", "Shadow",
    "Horizon", "Witness", "Storm", "Letter", "Island", "Station", "Frontier", "Mirror",
    "Season", "Bridge", "Code", "Crown", "Desert", "Engine", "Fortune", "Game", "Heart",
    "Hunter", "Journey", "Legacy", "Machine", "Mountain", "Night", "Ocean", "Orchard",
    "Passage", "Road", "Secret", "Sky", "Summer", "Tide", "Valley", "Voice", "Winter",
    "Wolf", "Circle", "Dawn", "Echo", "Flame", "Gate", "Key", "Line",
)  # fmt: skip
PLACES = (
    "Lisbon", "Naples", "Marseille", "Hamburg", "Oslo", "Vienna", "Krakow", "Seville",
    "Tangier", "Havana", "Montreal", "Denver", "Memphis", "Glasgow", "Bruges", "Palermo",
    "Trieste", "Porto", "Valparaiso", "Odessa",
)  # fmt: skip
FIRST_NAMES = (
    "Anna", "Marco", "Sofia", "Luca", "Emma", "Noah", "Giulia", "Liam", "Chiara", "Mateo",
    "Lea", "Hugo", "Clara", "Jonas", "Elena", "Pablo", "Nora", "Felix", "Ines", "Oscar",
    "Maya", "Theo", "Alba", "Leon", "Iris", "Dario", "Vera", "Tomas", "Lina", "Bruno",
)  # fmt: skip
LAST_NAMES = (
    "Rossi", "Bianchi", "Martin", "Muller", "Garcia", "Silva", "Dubois", "Novak", "Jensen",
    "Kowalski", "Costa", "Moreau", "Fischer", "Lopez", "Ricci", "Weber", "Santos", "Berg",
    "Conti", "Ferrari", "Lambert", "Romano", "Keller", "Navarro", "Marino", "Horvat",
    "Greco", "Russo", "Schmidt", "Pereira",
)  # fmt: skip
PLOT_WHO = (
    "A retired detective", "Two estranged sisters", "A young engineer", "A small-town doctor",
    "An ambitious journalist", "A family of farmers", "A disgraced pilot", "A street musician",
    "A team of scientists", "A reluctant heir", "An orphaned teenager", "A veteran smuggler",
)  # fmt: skip
PLOT_WHAT = (
    "uncovers a conspiracy", "returns home after twenty years", "must win one last race",
    "discovers a hidden talent", "is drawn into a dangerous game",
    "searches for a missing friend", "fights to save the family business",
    "falls for an unlikely rival", "inherits a mysterious house", "races against time",
)  # fmt: skip
PLOT_WHERE = tuple(f"in {place}" for place in PLACES)
PLOT_TWIST = (
    "and nothing is what it seems.", "before the winter ends.", "while an old enemy watches.",
    "and learns what loyalty costs.", "as a storm closes the roads.",
    "with the whole town watching.", "and finds more than expected.",
)  # fmt: skip
EPISODE_TITLES = (
    "Pilot", "Homecoming", "The Offer", "Crossroads", "Old Friends", "The Storm",
    "Fault Lines", "Night Shift", "The Visitor", "Ties That Bind", "Smoke and Mirrors",
    "Point of No Return", "Undertow", "The Long Way", "Reckoning", "Aftermath",
    "Open Water", "Ghosts", "First Light", "Endgame",
)  # fmt: skip

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """Lower-case letters and digits joined by '-', for URLs of logos and posters."""
    return _NOT_ALNUM.sub("-", text.lower()).strip("-")


@dataclass
class UniqueNames:
    """Hands out names not yet taken; a taken name gets a number, like a sequel: 'X 2'."""

    taken: set[str] = field(default_factory=set)
    _next_suffix: dict[str, int] = field(default_factory=dict)

    @classmethod
    def excluding(cls, names: Iterable[str]) -> UniqueNames:
        return cls(taken=set(names))

    def take(self, name: str) -> str:
        if name not in self.taken:
            self.taken.add(name)
            return name
        suffix = self._next_suffix.get(name, 2)
        while f"{name} {suffix}" in self.taken:
            suffix += 1
        self._next_suffix[name] = suffix + 1
        unique = f"{name} {suffix}"
        self.taken.add(unique)
        return unique


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def channel_name(rng: random.Random, category: str) -> tuple[str, str]:
    """A channel's display name and its EPG id (shared by HD/SD variants, as in real guides)."""
    country = rng.choice(COUNTRIES)
    brand = rng.choice(BRANDS)
    theme = rng.choice(LIVE_CATEGORIES[category][1])
    epg_id = f"{_NOT_ALNUM.sub('', (brand + theme).lower())}.{country.lower()}"
    return f"{country}: {brand} {theme}{rng.choice(QUALITIES)}", epg_id


def title(rng: random.Random) -> str:
    """A film or series title."""
    pattern = rng.randrange(7)
    adjective, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
    if pattern == 0:
        return f"The {adjective} {noun}"
    if pattern == 1:
        return f"{noun} of the {rng.choice(NOUNS)}s"
    if pattern == 2:
        return f"{adjective} {noun}"
    if pattern == 3:
        return f"The {noun} of {rng.choice(PLACES)}"
    if pattern == 4:
        return f"Return to {rng.choice(PLACES)}"
    if pattern == 5:
        return f"{rng.choice(FIRST_NAMES)}'s {noun}"
    return f"A {adjective} {noun} in {rng.choice(PLACES)}"


def plot(rng: random.Random) -> str:
    return (
        f"{rng.choice(PLOT_WHO)} {rng.choice(PLOT_WHAT)} "
        f"{rng.choice(PLOT_WHERE)} {rng.choice(PLOT_TWIST)}"
    )


def username(rng: random.Random) -> str:
    """Letters and digits only: Xtream URLs carry it as a path segment (reference §3.2)."""
    return f"{rng.choice(FIRST_NAMES)}{rng.choice(LAST_NAMES)}{rng.randrange(10, 10_000)}".lower()


_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def password(rng: random.Random, length: int = 10) -> str:
    return "".join(rng.choices(_PASSWORD_ALPHABET, k=length))
