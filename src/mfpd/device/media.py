"""Input trays and output bins."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Tray:
    index: int  # 1-based, the prtInputIndex
    name: str
    media: str  # PWG 5101.1 self-describing media size name
    media_type: str
    capacity: int
    level: int
    low_level: int

    @property
    def empty(self) -> bool:
        return self.level <= 0

    @property
    def low(self) -> bool:
        return 0 < self.level <= self.low_level

    @property
    def key(self) -> str:
        """The name operators use on the command line: tray-1 ... or bypass."""
        return self.name.lower().replace(" ", "-")


@dataclass
class OutputBin:
    index: int
    name: str
    capacity: int
    # Sheets lying in the bin; real bins only know "not empty" / "full", but counting is harmless.
    level: int = 0

    @property
    def key(self) -> str:
        return self.name.lower().replace(" ", "-")
