"""`host`, `host:port`, `[v6]` or `[v6]:port` as written in the configuration ([smtp] server,
[kerberos] kdc, [dns] servers and ddns_server): one parser for every setting that names a
server."""

from __future__ import annotations


def host_port(text: str, default_port: int) -> tuple[str, int]:
    """(host, port), the port `default_port` when none is written; ValueError naming `text`
    for a form that is none of these, an empty host or a port outside 1-65535."""
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"{text!r}: expected [address]:port")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        if not number.isdigit():
            raise ValueError(f"{text!r}: expected host:port")
        port = int(number)
    if not host or not 0 < port < 65536:
        raise ValueError(f"{text!r}: expected host:port")
    return host, port
