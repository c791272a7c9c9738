"""Numbers a discovery protocol needs to rise across restarts, kept in the state dir.

SSDP's BOOTID.UPNP.ORG (UDA 1.1 1.2.2) and WS-Discovery's AppSequence InstanceId (section 7)
must be larger at every start than at the one before, or a client takes the new start's
messages for stale ones; WS-Discovery's MetadataVersion must rise whenever the metadata
changes. The start time in seconds would do, but a responder switched off and on within a
second would repeat it: the last value is kept, and the next is the larger of the clock and
the last plus one.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

# UDA 1.1: BOOTID is a non-negative 31-bit integer; WS-Discovery's InstanceId an unsignedInt.
MAX_31_BITS = 2**31 - 1

log = logging.getLogger("mfpd.discovery")


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:  # a read-only state dir: the number still rises in this run
        log.warning("%s: cannot keep it: %s", path, exc)


def next_start_number(state_dir: Path, name: str) -> int:
    path = state_dir / name
    try:
        last = int(path.read_text().strip())
    except (OSError, ValueError):
        last = 0
    number = min(max(int(time.time()), last + 1), MAX_31_BITS)
    _write(path, f"{number}\n")
    return number


def metadata_version(state_dir: Path, name: str, fingerprint: str) -> int:
    """The version of a metadata document whose content `fingerprint` sums up: the kept
    version while the fingerprint is the same, the next one when it changed."""
    path = state_dir / name
    try:
        kept = json.loads(path.read_text())
        version, seen = int(kept["version"]), str(kept["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        version, seen = 0, ""
    if seen == fingerprint and version > 0:
        return version
    version += 1
    _write(path, json.dumps({"version": version, "fingerprint": fingerprint}) + "\n")
    return version
