"""Marker supplies: toner, drum, fuser, waste container."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Supply:
    index: int  # 1-based, the prtMarkerSuppliesIndex
    name: str
    kind: str  # toner, opc, fuser, waste, developer
    color: str  # black, cyan, magenta, yellow or none
    capacity: int  # impressions
    level: int  # impressions left (for the waste container: room left)
    low_percent: int

    @property
    def percent(self) -> int:
        return max(0, min(100, round(100 * self.level / self.capacity)))

    @property
    def empty(self) -> bool:
        return self.level <= 0

    @property
    def low(self) -> bool:
        return not self.empty and self.percent <= self.low_percent

    @property
    def key(self) -> str:
        """Short operator name: black, cyan, ..., drum, fuser, waste."""
        if self.kind == "toner":
            return self.color
        return {"opc": "drum", "fuser": "fuser", "waste": "waste"}.get(self.kind, self.kind)

    def consume(self, amount: int = 1) -> None:
        self.level = max(0, self.level - amount)
