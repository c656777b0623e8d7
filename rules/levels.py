"""The four rating levels (mức xếp loại chất lượng), DOMAIN §4."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from rules.text import N_


class Level(Enum):
    """Highest first. Comparisons follow quality: ``Level.HTXS > Level.HTT``."""

    HTXS = "HTXS"  # Hoàn thành xuất sắc nhiệm vụ
    HTT = "HTT"  # Hoàn thành tốt nhiệm vụ
    HT = "HT"  # Hoàn thành nhiệm vụ
    KHT = "KHT"  # Không hoàn thành nhiệm vụ

    @property
    def rank(self) -> int:
        """3 for HTXS down to 0 for KHT."""
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank >= other.rank

    @property
    def name_msgid(self) -> str:
        """The full name as a msgid ("Excellently completed duties")."""
        return LEVEL_NAMES[self]

    @property
    def legacy_org_msgid(self) -> str:
        """The 2017 plan's name of this level for an organisation."""
        return LEGACY_ORG_NAMES[self]


_RANK = {Level.HTXS: 3, Level.HTT: 2, Level.HT: 1, Level.KHT: 0}

# Highest first: the order of the ballot and of every scan from the top.
LEVELS_DESC: tuple[Level, ...] = (Level.HTXS, Level.HTT, Level.HT, Level.KHT)

LEVEL_NAMES: dict[Level, str] = {
    Level.HTXS: N_("Excellently completed duties"),
    Level.HTT: N_("Well completed duties"),
    Level.HT: N_("Completed duties"),
    Level.KHT: N_("Did not complete duties"),
}

# Organisations before 2019 (seed 002, HD 27-2014): "trong sạch, vững mạnh" and its
# "tiêu biểu" subset sit where HTT and HTXS sit now (R-Q7 maps 50%/20% onto them).
LEGACY_ORG_NAMES: dict[Level, str] = {
    Level.HTXS: N_("Exemplary clean and strong"),
    Level.HTT: N_("Clean and strong"),
    Level.HT: N_("Completed duties"),
    Level.KHT: N_("Weak"),
}


def parse_level(code: str) -> Level:
    """``"htt"`` → Level.HTT; ValueError naming the code otherwise."""
    try:
        return Level(code.strip().upper())
    except ValueError:
        raise ValueError(f"unknown level {code!r}") from None


def levels_at_most(cap: Level) -> tuple[Level, ...]:
    """The levels not above ``cap``, highest first."""
    return tuple(level for level in LEVELS_DESC if level <= cap)


def lowest(levels: Iterable[Level]) -> Level:
    """The lowest of the given levels (the binding cap)."""
    return min(levels, key=lambda level: level.rank)


def at_or_above(level: Level) -> tuple[Level, ...]:
    """``level`` and every higher one, highest first (the cumulative count)."""
    return tuple(other for other in LEVELS_DESC if other >= level)
