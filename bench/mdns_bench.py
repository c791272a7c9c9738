"""The mDNS responder's cost beside avahi-daemon's, in one run.

Each responder runs alone in a network namespace of its own whose loopback carries multicast
(the tests' recipe), on 5353, advertising `_ipp._tcp` with the same TXT record:

- mfpd: `mfpd serve --port-offset 0 --bind 127.0.0.1`, every service on (mdns advertises its
  five service types); once more with `[services.mdns] enabled = false`, whose idle CPU is
  the daemon's without mDNS;
- avahi-daemon 0.8 (the reference): a static service file with the TXT record mfpd
  announced, no D-Bus, publishing only that (its own host records aside). Its configuration
  sits in /etc/netns/NS/avahi, which `ip netns exec` mounts over /etc/avahi.

Measured from /proc/PID/stat (utime + stime) of the responder: its CPU over `--idle` seconds
of nothing to do, after its start has settled, then over `--queries` legacy-unicast PTR
queries for `_ipp._tcp.local.` (RFC 6762 6.7: sent from an ephemeral port to
127.0.0.1:5353, answered by unicast to it), one at a time, each answer's ID and answer count
checked, from a client inside the namespace.

Usage: python bench/mdns_bench.py [--idle 60] [--queries 1000] [--only mfpd|avahi]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MFPD = [sys.executable, "-m", "mfpd"]
TICK = os.sysconf("SC_CLK_TCK")
CONFIG = "[engine]\nspeed_ppm = 0\nspeed_ppm_color = 0\n"
AVAHI_CONF = """[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
enable-dbus=no
host-name=avahi-ref
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def query(name: str, ident: int) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split("."))
    return struct.pack("!6H", ident, 0, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!2H", 12, 1)


def client(count: int) -> None:
    """Inside the namespace: `count` PTR queries, one at a time; prints the answered count."""
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.connect(("127.0.0.1", 5353))
        first = random.randrange(65536)
        for n in range(count):
            # Distinct IDs: zeroconf drops a datagram equal to one of the last second's.
            ident = (first + n) % 65535 + 1
            sock.send(query("_ipp._tcp.local.", ident))
            try:
                while True:
                    data = sock.recv(9000)
                    got, _flags, _qd, answers = struct.unpack("!4H", data[:8])
                    if got == ident:
                        answered += answers > 0
                        break
            except TimeoutError:
                pass
    print(json.dumps({"answered": answered}))


class Namespace:
    def __init__(self, name: str) -> None:
        self.name = name
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        for args in (
            ["netns", "add", name],
            ["-n", name, "link", "set", "lo", "up"],
            ["-n", name, "link", "set", "lo", "multicast", "on"],
            ["-n", name, "route", "add", "224.0.0.0/4", "dev", "lo"],
        ):
            subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)

    def popen(self, command: list[str], **kwargs: object) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", self.name, *command], **kwargs)  # type: ignore[call-overload,no-any-return]

    def queries(self, count: int) -> int:
        out = subprocess.run(
            ["ip", "netns", "exec", self.name, "timeout", "300", sys.executable, __file__,
             "--client", str(count)],
            capture_output=True, text=True, timeout=330, check=True,
        )  # fmt: skip
        answered: int = json.loads(out.stdout)["answered"]
        return answered

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
        shutil.rmtree(Path("/etc/netns") / self.name, ignore_errors=True)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


def wait_for(check: object, what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def measure(pid: int, ns: Namespace, idle: float, count: int) -> dict[str, float]:
    time.sleep(2)  # the start's announcements are over
    before = cpu_seconds(pid)
    time.sleep(idle)
    idle_cpu = cpu_seconds(pid) - before
    before = cpu_seconds(pid)
    started = time.monotonic()
    answered = ns.queries(count) if count else 0
    elapsed = time.monotonic() - started
    spent = cpu_seconds(pid) - before
    return {
        "idle_cpu_ms": round(idle_cpu * 1000, 1),
        "idle_pct": round(100 * idle_cpu / idle, 3),
        "queries": count,
        "answered": answered,
        "cpu_ms_per_1000": round(spent * 1000 * 1000 / count, 1) if count else 0.0,
        "queries_per_s": round(count / elapsed, 1) if count else 0.0,
    }


def run_mfpd(directory: Path, idle: float, count: int, mdns: bool) -> dict[str, float]:
    ns = Namespace(f"mfpd-bench-mdns-{os.getpid()}")
    state = directory / ("state-on" if mdns else "state-off")
    state.mkdir()
    config = directory / "mfpd.toml"
    config.write_text(CONFIG + ("" if mdns else "[services.mdns]\nenabled = false\n"))
    log = (directory / f"mfpd-{mdns}.log").open("w")
    proc = ns.popen(
        [*MFPD, "serve", "--config", str(config), "--state-dir", str(state),
         "--port-offset", "0", "--bind", "127.0.0.1"],
        stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        if mdns:
            wait_for(
                lambda: "mdns: advertising" in Path(log.name).read_text(),
                "mfpd's mDNS",
                Path(log.name),
            )
        else:
            wait_for(lambda: (state / "ports.json").exists(), "mfpd", Path(log.name))
        return measure(proc.pid, ns, idle, count if mdns else 0)
    finally:
        stop(proc)
        log.close()
        ns.delete()


def run_avahi(directory: Path, idle: float, count: int, txt: dict[str, str]) -> dict[str, float]:
    ns = Namespace(f"mfpd-bench-avahi-{os.getpid()}")
    etc = Path("/etc/netns") / ns.name / "avahi"
    (etc / "services").mkdir(parents=True)
    (etc / "avahi-daemon.conf").write_text(AVAHI_CONF)
    records = "".join(
        f"    <txt-record>{k}={v.replace('&', '&amp;').replace('<', '&lt;')}</txt-record>\n"
        for k, v in txt.items()
    )
    (etc / "services" / "ipp.service").write_text(
        '<?xml version="1.0" standalone="no"?>\n<service-group>\n  <name>XRX-WC7755</name>\n'
        f"  <service>\n    <type>_ipp._tcp</type>\n    <port>631</port>\n{records}"
        "  </service>\n</service-group>\n"
    )
    log = (directory / "avahi.log").open("w")
    proc = ns.popen(
        ["avahi-daemon", "--no-drop-root", "--no-chroot", "--no-rlimits"],
        stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for(
            lambda: "Server startup complete" in Path(log.name).read_text(), "avahi", Path(log.name)
        )
        wait_for(
            lambda: 'Service "XRX-WC7755"' in Path(log.name).read_text(),
            "avahi's service",
            Path(log.name),
        )
        return measure(proc.pid, ns, idle, count)
    finally:
        stop(proc)
        log.close()
        ns.delete()
        Path("/run/avahi-daemon/pid").unlink(missing_ok=True)


def mfpd_txt() -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "src"))
    from mfpd.config import parse_config
    from mfpd.device.machine import build_device
    from mfpd.services.discovery.mdns_records import printer_txt
    from mfpd.services.ipp.printer_attributes import PrinterAttributes, printer_uris

    class Queue:
        active_count = 0

    device = build_device(parse_config(CONFIG))
    uris = printer_uris("XRX-WC7755.local:631", secure=False, tls=True)
    attrs = {a.name: a for a in PrinterAttributes()(device, Queue(), uris)}  # type: ignore[arg-type]
    return {"rp": "ipp/print", **printer_txt(attrs, adminurl="http://XRX-WC7755.local:631/")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--only", choices=("mfpd", "avahi"))
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client is not None:
        client(args.client)
        return
    if Path("/run/avahi-daemon/pid").exists():
        raise SystemExit("an avahi-daemon runs on this host; stop it first")
    with tempfile.TemporaryDirectory(prefix="mdns-bench-") as tmp:
        directory = Path(tmp)
        results = {}
        if args.only in (None, "mfpd"):
            results["mfpd (mdns on)"] = run_mfpd(directory, args.idle, args.queries, True)
            results["mfpd (mdns off)"] = run_mfpd(directory, args.idle, 0, False)
        if args.only in (None, "avahi"):
            results["avahi-daemon 0.8"] = run_avahi(directory, args.idle, args.queries, mfpd_txt())
        for name, figures in results.items():
            print(f"{name:18} {json.dumps(figures)}")


if __name__ == "__main__":
    main()
