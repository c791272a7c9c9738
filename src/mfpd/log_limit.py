"""A bound on log lines for one kind of peer trouble: a scan or a flood must not flood the log."""

from __future__ import annotations

import logging
import time


class LogLimit:
    """At most `lines` log lines per `window` seconds for one kind of trouble, then one line
    saying how many were left out."""

    def __init__(
        self,
        what: str,
        lines: int = 20,
        window: float = 10.0,
        log: logging.Logger | None = None,
        prefix: str = "snmp",
    ) -> None:
        self.what = what
        self.lines = lines
        self.window = window
        self.log = log or logging.getLogger(f"mfpd.{prefix}")
        self.prefix = prefix
        self._start = -window
        self._count = 0

    def allow(self) -> bool:
        now = time.monotonic()
        if now - self._start > self.window:
            if self._count > self.lines:
                self.log.warning("%s: %d more %s", self.prefix, self._count - self.lines, self.what)
            self._start, self._count = now, 0
        self._count += 1
        return self._count <= self.lines
