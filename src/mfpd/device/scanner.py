"""The scanner: the glass (platen) and the duplex automatic document feeder, what lies on
them, and their conditions.

Like the trays and supplies, the scanner has no I/O: the Device owns it, and every change
goes through the Device's change hook, so a feeder jam is one condition in the one alert
table (IPP printer-state-reasons, prtAlertTable, the web UI, eSCL ScannerStatus).

A sheet in the feeder has two sides; a page of a loaded file is the front of one sheet and
its back is blank, so a 3-page PDF scanned duplex gives 6 images (the backs blank unless
blank-page suppression drops them). The glass always holds an original: the one loaded, or
the device's generated test chart.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mfpd.device.scan_settings import FEEDER_CAPACITY


class ScannerError(Exception):
    """An operator action the scanner cannot do (more than the feeder holds, ...)."""


class FeedError(Exception):
    """The feeder cannot give the next sheet; `reason` is eSCL's AdfState for it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Original:
    """One side of a sheet: a page of a loaded file, the generated test chart, or blank."""

    path: str = ""  # a file under STATE_DIR/originals; empty: the test chart (unless blank)
    page: int = 0  # the page of that file, from 0
    blank: bool = False
    name: str = ""  # the file's name as the operator loaded it

    @property
    def chart(self) -> bool:
        return not self.path and not self.blank

    def describe(self) -> str:
        if self.blank:
            return "blank"
        if self.chart:
            return "test chart"
        return f"{self.name or self.path} page {self.page + 1}"


CHART = Original()
BLANK = Original(blank=True)


@dataclass(frozen=True)
class Sheet:
    front: Original
    back: Original = BLANK


class ScannerState(enum.StrEnum):
    """eSCL pwg:State of the scanner (the PWG semantic model's ScannerState)."""

    IDLE = "Idle"
    PROCESSING = "Processing"
    STOPPED = "Stopped"


class Scanner:
    def __init__(
        self,
        changed: Callable[[Callable[[], None]], None] | None = None,
        capacity: int = FEEDER_CAPACITY,
    ) -> None:
        # The Device's change hook: mutations run through it so conditions and events follow.
        self._changed = changed or (lambda mutate: mutate())
        self.capacity = capacity
        self.glass: Original = CHART
        self.feeder: deque[Sheet] = deque()
        self.jammed = False
        self.cover_open = False
        self.busy = False
        # Images scanned since the counters began, by colour mode (eSCL's names).
        self.images: dict[str, int] = {}

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> ScannerState:
        if self.busy:
            return ScannerState.PROCESSING
        return ScannerState.IDLE

    @property
    def adf_state(self) -> str:
        """eSCL scan:AdfState (eSCL 2.x, ScannerStatus)."""
        if self.jammed:
            return "ScannerAdfJam"
        if self.cover_open:
            return "ScannerAdfHatchOpen"
        if self.busy and self.feeder:
            return "ScannerAdfProcessing"
        return "ScannerAdfLoaded" if self.feeder else "ScannerAdfEmpty"

    @property
    def feeder_sheets(self) -> int:
        return len(self.feeder)

    # -- what the operator does ----------------------------------------------------------

    def load_feeder(self, sheets: list[Sheet]) -> None:
        if len(self.feeder) + len(sheets) > self.capacity:
            raise ScannerError(
                f"the document feeder holds {self.capacity} sheets; it has {len(self.feeder)}, "
                f"{len(sheets)} more do not fit"
            )
        self._changed(lambda: self.feeder.extend(sheets))

    def load_glass(self, original: Original) -> None:
        self._changed(lambda: setattr(self, "glass", original))

    def clear(self, *, feeder: bool = True, glass: bool = True) -> list[Original]:
        """Take the originals away; returns those that were loaded files (for their files)."""
        taken = [s.front for s in self.feeder] + [s.back for s in self.feeder] if feeder else []
        if glass:
            taken.append(self.glass)

        def mutate() -> None:
            if feeder:
                self.feeder.clear()
            if glass:
                self.glass = CHART

        self._changed(mutate)
        return [o for o in taken if o.path]

    def set_jammed(self, jammed: bool) -> None:
        if jammed != self.jammed:
            self._changed(lambda: setattr(self, "jammed", jammed))

    def set_cover_open(self, cover_open: bool) -> None:
        if cover_open != self.cover_open:
            self._changed(lambda: setattr(self, "cover_open", cover_open))

    # -- what a scan job does ------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self._changed(lambda: setattr(self, "busy", busy))

    def feed(self) -> Sheet:
        """The next sheet from the feeder, or FeedError (empty, jammed, cover open)."""
        if self.jammed:
            raise FeedError("ScannerAdfJam", "the document feeder is jammed")
        if self.cover_open:
            raise FeedError("ScannerAdfHatchOpen", "the document feeder is open")
        if not self.feeder:
            raise FeedError("ScannerAdfEmpty", "the document feeder is empty")
        sheet: list[Sheet] = []
        self._changed(lambda: sheet.append(self.feeder.popleft()))
        return sheet[0]

    def jam_on(self, sheet: Sheet) -> None:
        """A sheet jammed while being fed: it goes back on top of the stack (the operator
        takes it out of the path and puts it back), and the feeder is jammed."""

        def mutate() -> None:
            self.feeder.appendleft(sheet)
            self.jammed = True

        self._changed(mutate)

    def count_image(self, color_mode: str) -> None:
        self._changed(
            lambda: self.images.__setitem__(color_mode, self.images.get(color_mode, 0) + 1)
        )

    # -- persistence and reporting -------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "glass": asdict(self.glass),
            "feeder": [{"front": asdict(s.front), "back": asdict(s.back)} for s in self.feeder],
            "jammed": self.jammed,
            "cover_open": self.cover_open,
            "images": dict(self.images),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        try:
            self.glass = _original(snap.get("glass")) or CHART
            feeder = []
            for item in snap.get("feeder", [])[: self.capacity]:
                front = _original(item.get("front"))
                if front is not None:
                    feeder.append(Sheet(front, _original(item.get("back")) or BLANK))
            self.feeder = deque(feeder)
        except (AttributeError, TypeError):
            self.glass, self.feeder = CHART, deque()
        self.jammed = bool(snap.get("jammed", False))
        self.cover_open = bool(snap.get("cover_open", False))
        images = snap.get("images", {})
        if isinstance(images, dict):
            self.images = {str(k): v for k, v in images.items() if isinstance(v, int)}

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "adf_state": self.adf_state,
            "feeder_sheets": len(self.feeder),
            "feeder_capacity": self.capacity,
            "feeder": [s.front.describe() for s in self.feeder],
            "glass": self.glass.describe(),
            "jammed": self.jammed,
            "cover_open": self.cover_open,
            "images": dict(self.images),
        }


def _original(data: object) -> Original | None:
    if not isinstance(data, dict):
        return None
    return Original(
        path=str(data.get("path", "")),
        page=int(data.get("page", 0)),
        blank=bool(data.get("blank", False)),
        name=str(data.get("name", "")),
    )
