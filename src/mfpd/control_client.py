"""The client half of the control socket (see mfpd.control): what `mfpd status|refill|fault|
cancel|release|token|password` send, with the standard library alone, so they start fast."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

SOCKET_NAME = "control.sock"


class ControlError(Exception):
    pass


class NotRunning(ControlError):
    pass


def call(state_dir: Path, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send one request to the daemon of `state_dir` (blocking, for the CLI)."""
    path = state_dir / SOCKET_NAME
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotRunning(f"no mfpd is running with state dir {state_dir}") from None
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ControlError("the daemon closed the control connection")
            data += chunk
    finally:
        sock.close()
    answer: dict[str, Any] = json.loads(data)
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error", "request failed")))
    return answer
