"""python-zeroconf as a client, run inside a test's network namespace (`python -m
tests.integration.mdns_client ...`): one JSON line per event on stdout, flushed, so that a
test can follow a browser that stays open.

    browse TYPE SECONDS      a ServiceBrowser with its update handler: each added, updated or
                             removed instance, with what resolving it gives (port, TXT, host)
    own NAME TYPE SECONDS    a second responder holding the instance NAME (for a conflict)
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

INTERFACES = ["127.0.0.1"]


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def browse(service_type: str, seconds: float) -> None:
    zc = AsyncZeroconf(interfaces=INTERFACES, ip_version=IPVersion.V4Only)
    pending: set[asyncio.Task[None]] = set()

    async def resolve(name: str, change: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        found = change != "removed" and await info.async_request(zc.zeroconf, 3000)
        say(
            event=change, name=name, resolved=bool(found), port=info.port,
            server=info.server, addresses=info.parsed_addresses(),
            txt={k: v for k, v in info.decoded_properties.items()} if found else {},
        )  # fmt: skip

    def handler(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        change = state_change.name.lower()
        task = asyncio.ensure_future(resolve(name, change))
        pending.add(task)
        task.add_done_callback(pending.discard)

    browser = AsyncServiceBrowser(zc.zeroconf, [service_type], handlers=[handler])
    say(event="browsing", type=service_type)
    await asyncio.sleep(seconds)
    await browser.async_cancel()
    await zc.async_close()


async def own(name: str, service_type: str, seconds: float) -> None:
    zc = AsyncZeroconf(interfaces=INTERFACES, ip_version=IPVersion.V4Only)
    info = AsyncServiceInfo(
        service_type, f"{name}.{service_type}", port=6310, server="other-printer.local.",
        properties={"txtvers": "1", "rp": "ipp/print"}, parsed_addresses=INTERFACES,
    )  # fmt: skip
    await (await zc.async_register_service(info))
    say(event="registered", name=info.name)
    await asyncio.sleep(seconds)
    await zc.async_close()


def main(argv: list[str]) -> None:
    if argv[0] == "browse":
        asyncio.run(browse(argv[1], float(argv[2])))
    elif argv[0] == "own":
        asyncio.run(own(argv[1], argv[2], float(argv[3])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
