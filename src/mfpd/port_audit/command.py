"""`mfpd audit [HOST] [--config FILE] [--port-offset N] [--json]`: what is promised, the scan,
the report; exit status 0 when the live table matches the promise, 1 when it differs."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

from mfpd.config import Config, load_config
from mfpd.port_audit.report import Audit, live_host, live_rows, resolve, targets
from mfpd.port_audit.scanner import scan
from mfpd.ports import plan
from mfpd.services.base import PortEntry

EXIT_MATCH, EXIT_DIFFERS, EXIT_ERROR = 0, 1, 2


def run_audit(
    *,
    host: str | None,
    config: Path | None,
    offset: int | None,
    community: str,
    state_dir: Path,
    as_json: bool,
) -> int:
    try:
        address, rows, promised_by, offset = _promise(host, config, offset, state_dir)
    except ValueError as exc:
        print(f"mfpd: {exc}", file=sys.stderr)
        return EXIT_ERROR
    wanted = targets(rows, address, offset)
    findings = asyncio.run(
        scan(
            address,
            [t.port for t in wanted if t.protocol == "tcp"],
            {t.port: t.probe for t in wanted if t.protocol == "udp"},
            community,
        )
    )
    by_key = {(f.protocol, f.port): f for f in findings}
    audit = Audit(host or address, promised_by, [(t, by_key[t.protocol, t.port]) for t in wanted])
    print(json.dumps(audit.to_dict(), indent=2) if as_json else audit.format())
    return EXIT_MATCH if audit.matches else EXIT_DIFFERS


def _promise(
    host: str | None, config: Path | None, offset: int | None, state_dir: Path
) -> tuple[str, list[PortEntry], str, int]:
    """The address to scan, the promised rows, where they come from, and the port offset."""
    if host is None and config is None:
        rows = live_rows(state_dir)
        if offset is None:
            offset = _offset_of(rows)
        return live_host(rows), rows, f"the running daemon's {state_dir / 'ports.json'}", offset
    address = resolve(host or "127.0.0.1")
    offset = offset or 0
    if config is None:
        # A device with no configuration given is held to the factory defaults.
        return address, plan(Config(), address, offset), "the default configuration", offset
    return address, plan(load_config(config), address, offset), str(config), offset


def _offset_of(rows: list[PortEntry]) -> int:
    """The port offset a live table was made with: what most rows add to their standard
    port (a moved row adds 8000 more)."""
    shifts = Counter(row.port - row.standard_port for row in rows)
    return shifts.most_common(1)[0][0] if shifts else 0
