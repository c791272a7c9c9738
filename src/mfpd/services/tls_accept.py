"""TLS on an accepted socket, for every TLS listener of the device: a refused handshake is
answered with the alert OpenSSL made, as a device's TLS stack does.

asyncio and uvloop both drop that alert: when the handshake fails they close the socket
without sending what OpenSSL wrote for the peer (CPython gh-98078). The context from
security/tls.py keeps the alert on the exception (HandshakeRefused), but by the time the
exception reaches here the loop has closed its socket. So the listener holds a second
descriptor of the socket for the handshake's length and sends the alert on it; the
connection then closes when that descriptor does (RFC 8446 6.2: a fatal alert, then close).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

from mfpd.security.tls import DeviceContext, HandshakeRefused


async def accept_tls(
    conn: socket.socket,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    context: DeviceContext,
    *,
    handshake_timeout: float,
    shutdown_timeout: float,
) -> asyncio.Transport:
    """loop.connect_accepted_socket over TLS; the transport once the handshake is done.

    Raises what the loop raises (OSError, TimeoutError); after a HandshakeRefused its alert
    has been sent."""
    loop = asyncio.get_running_loop()
    # A dup'ed descriptor keeps the socket open after the loop closes its own: no FIN goes
    # out until the alert has.
    spare = conn.dup()
    try:
        transport, _ = await loop.connect_accepted_socket(
            protocol_factory,
            conn,
            ssl=context,
            ssl_handshake_timeout=handshake_timeout,
            ssl_shutdown_timeout=shutdown_timeout,
        )
    except HandshakeRefused as exc:
        # A few bytes into a socket nothing else has written to since the handshake failed:
        # the send buffer takes them at once (the socket is non-blocking, never waited on).
        with contextlib.suppress(OSError):
            spare.send(exc.alert)
        raise
    finally:
        spare.close()
    return transport
