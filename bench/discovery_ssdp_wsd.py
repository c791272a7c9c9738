"""The SSDP and WS-Discovery responders' CPU cost: per 1,000 M-SEARCH and per 1,000 Probe,
and the daemon's idle cost, as bench/RESULTS.md records them (issue 13).

Run as root (a network namespace of its own, whose loopback carries multicast; nothing is
sent on the machine's interfaces):

    .venv/bin/python bench/discovery_ssdp_wsd.py [--queries 1000] [--idle 20]

`mfpd serve --port-offset 0 --bind 127.0.0.1` runs in the namespace; a client there sends
unicast queries (no MX or APP_MAX_DELAY wait), one at a time, each from its own source
address (127.0.x.y), waiting for the answer. The daemon's CPU is utime + stime from
/proc/PID/stat before and after; the idle rate, measured first over `--idle` seconds with
every responder on, is taken off. Queries are paced (`--rate`) so that the reply budget's
total bucket (16 KiB/s beyond the requests' size) lets every one be answered; the count of
answers is printed beside the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

M_SEARCH = (
    b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
    b"ST: upnp:rootdevice\r\n\r\n"
)
PROBE = (
    b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
    b'xmlns:soap="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    b'xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
    b'xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof"><soap:Header>'
    b"<wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"
    b"<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>"
    b"<wsa:MessageID>urn:uuid:00000000-0000-0000-0000-#N#</wsa:MessageID></soap:Header>"
    b"<soap:Body><wsd:Probe><wsd:Types>wsdp:Device</wsd:Types></wsd:Probe></soap:Body>"
    b"</soap:Envelope>"
)

CLIENT = textwrap.dedent(
    """
    import json, socket, sys, time
    port, count, rate, payload = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), \\
        bytes.fromhex(sys.argv[4])
    answered = 0
    start = time.monotonic()
    for n in range(count):
        source = f"127.0.{2 + n // 250}.{1 + n % 250}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((source, 0))
            s.settimeout(1.0)
            s.sendto(payload.replace(b"#N#", b"%012d" % n), ("127.0.0.1", port))
            try:
                s.recv(65535)
                answered += 1
            except TimeoutError:
                pass
        wait = start + (n + 1) / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    print(json.dumps({"answered": answered, "seconds": time.monotonic() - start}))
    """
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle measured")
    parser.add_argument("--ssdp-rate", type=float, default=50.0, help="M-SEARCH per second")
    parser.add_argument("--wsd-rate", type=float, default=25.0, help="Probes per second")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root: a network namespace of its own")
    ns = f"mfpd-bench-disc-{os.getpid()}"
    ip("netns", "add", ns)
    tmp = tempfile.TemporaryDirectory(prefix="mfpd-bench-")
    proc = None
    try:
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "link", "set", "lo", "multicast", "on")
        ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo")
        state = Path(tmp.name) / "state"
        config = Path(tmp.name) / "mfpd.toml"
        config.write_text("[engine]\nspeed_ppm = 0\n")
        log = (Path(tmp.name) / "mfpd.log").open("w")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "mfpd", "serve", "--config",
             str(config), "--state-dir", str(state), "--port-offset", "0", "--bind", "127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not (state / "ports.json").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("mfpd did not start:\n" + (Path(tmp.name) / "mfpd.log").read_text())
            time.sleep(0.1)
        rows = {r["service"]: r for r in json.loads((state / "ports.json").read_text())}
        print("rows:", {s: (rows[s]["state"], rows[s]["note"]) for s in ("ssdp", "wsd")})
        time.sleep(2)  # the start's announcements and first tasks are over
        before, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.idle)
        idle_rate = (cpu_seconds(proc.pid) - before) / (time.monotonic() - t0)
        print(f"idle: {idle_rate * 1000:.2f} ms CPU per second ({idle_rate * 100:.3f} % of a core)")
        for name, port, payload, rate in (
            ("M-SEARCH upnp:rootdevice", 1900, M_SEARCH, args.ssdp_rate),
            ("Probe wsdp:Device (2005/04)", 3702, PROBE, args.wsd_rate),
        ):
            before, t0 = cpu_seconds(proc.pid), time.monotonic()
            out = subprocess.run(
                ["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, str(port),
                 str(args.queries), str(rate), payload.hex()],
                check=True, capture_output=True, text=True, timeout=args.queries / rate + 120,
            )  # fmt: skip
            spent = cpu_seconds(proc.pid) - before
            elapsed = time.monotonic() - t0
            result = json.loads(out.stdout)
            net = spent - idle_rate * elapsed
            per_1000 = net * 1000 / args.queries * 1000
            print(
                f"{name}: {args.queries} sent, {result['answered']} answered in "
                f"{result['seconds']:.1f} s; daemon CPU {spent * 1000:.0f} ms "
                f"({net * 1000:.0f} ms above idle): {per_1000:.0f} ms per 1,000"
            )
    finally:
        if proc is not None:
            subprocess.run(["kill", "-TERM", str(proc.pid)], check=False)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        tmp.cleanup()


if __name__ == "__main__":
    main()
