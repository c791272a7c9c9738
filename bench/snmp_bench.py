"""The SNMP agent against net-snmp's snmpd, side by side in one run.

On each agent: `snmpbulkwalk -Cr50` of the whole tree (OIDs/s), `snmpwalk` (GETNEXT,
OIDs/s), the same bulk walk over SNMPv3 authPriv (HMAC-SHA-96, AES-128), sequential GET
requests/s with their latency (p50, p99), and the agent's RSS. Then mfpd's notifier: N
critical alerts raised through the control socket (`mfpd fault jam` and `--clear`, as the
CLI does it, on one connection), each one a printerV2Alert to a real snmptrapd, counted as
snmptrapd prints them; the reference sender is net-snmp's own `snmptrap`, one process per
trap, as a shell script would send them.

The reference is Debian's snmpd (net-snmp 5.9), unpacked beside the project by
`make deb-deps` (.tools/snmpd, not installed: the package would start a system daemon; an
installed /usr/sbin/snmpd is used when that is missing), run
in the foreground on a loopback port with a minimal configuration of its own (`rocommunity
public 127.0.0.1`, one v3 user, nothing else: it serves its default MIB modules, several
thousand instances). mfpd runs `serve` with `speed_ppm = 0`, one v3 user and one trap
destination, and serves its Printer MIB, Host Resources and MIB-II (several hundred).

The walks are net-snmp's own tools, numeric output into a pipe (`-On -m ''`), repeated for
`--seconds` per measurement; each walk's line count is checked. GETs come from this script:
datagrams encoded before the clock starts (one varbind each, system group and
hrSystemUptime, which both agents have), one at a time on a connected UDP socket, each
answer's request-id, PDU type and error-status checked. Beside each rate the script prints
the agent's CPU time per OID or request (from /proc, utime + stime) and the client's own:
the clients and the agent share the machine's cores, so the CPU time per unit depends less
on who else is running than the rates do.
Usage: python bench/snmp_bench.py [--seconds 3] [--runs 3] [--gets 20000] [--traps 300]
                                  [--only mfpd|snmpd]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import BENCH_CONFIG, ROOT, Daemon, filter_rules, percentile, rss_kib

SNMPD_CANDIDATES = (ROOT / ".tools" / "snmpd" / "usr" / "sbin" / "snmpd", Path("/usr/sbin/snmpd"))
SNMPTRAPD = "/usr/sbin/snmptrapd"
COMMUNITY = b"public"
USER = ("bench", "SHA", "bench-auth-key", "AES", "bench-priv-key")
V2C = ["-v2c", "-c", "public"]
V3 = ["-v3", "-l", "authPriv", "-u", USER[0], "-a", USER[1], "-A", USER[2],
      "-x", USER[3], "-X", USER[4]]  # fmt: skip
# What both agents have: MIB-II system scalars and hrSystemUptime (RFC 3418, RFC 2790).
GET_OIDS = [
    (1, 3, 6, 1, 2, 1, 1, 1, 0), (1, 3, 6, 1, 2, 1, 1, 2, 0), (1, 3, 6, 1, 2, 1, 1, 3, 0),
    (1, 3, 6, 1, 2, 1, 1, 4, 0), (1, 3, 6, 1, 2, 1, 1, 5, 0), (1, 3, 6, 1, 2, 1, 1, 6, 0),
    (1, 3, 6, 1, 2, 1, 25, 1, 1, 0),
]  # fmt: skip
PRINTER_V2_ALERT = "1.3.6.1.2.1.43.18.2.0.1"
SNMPD_CONFIG = """rocommunity public 127.0.0.1
createUser {0} {1} "{2}" {3} "{4}"
rouser {0} priv
""".format(*USER)
MFPD_CONFIG = (
    BENCH_CONFIG
    + """
[services.snmp]
[[services.snmp.users]]
name = "{0}"
auth_protocol = "sha"
auth_key = "{2}"
priv_protocol = "aes"
priv_key = "{4}"
[[services.snmp.traps]]
address = "127.0.0.1"
port = TRAP_PORT
version = "v2c"
community = "public"
""".format(*USER)
)
TRAPD_CONFIG = """disableAuthorization yes
authCommunity log public
format2 V2|%B|%P|%v\\n
format1 V1|%a|%N|%w|%q|%P|%v\\n
"""


# -- a little BER: the GET datagrams and the fields of their answers -------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _oid(arcs: tuple[int, ...]) -> bytes:
    out = bytearray()
    for arc in (arcs[0] * 40 + arcs[1], *arcs[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return _tlv(0x06, bytes(out))


def get_datagram(request_id: int, oid: tuple[int, ...]) -> bytes:
    """An SNMPv2c GetRequest-PDU (RFC 3416) for one variable."""
    varbind = _tlv(0x30, _oid(oid) + b"\x05\x00")
    pdu = _tlv(0xA0, _integer(request_id) + _integer(0) + _integer(0) + _tlv(0x30, varbind))
    return _tlv(0x30, _integer(1) + _tlv(0x04, COMMUNITY) + pdu)


def _skip_header(data: bytes, at: int) -> tuple[int, int, int]:
    """Tag, content start and content end of the TLV at `at`."""
    tag = data[at]
    first = data[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[at + 2 : at + 2 + count], "big")
    return tag, at + 2 + count, at + 2 + count + length


def parse_response(data: bytes) -> tuple[int, int, int, int]:
    """request-id, PDU tag, error-status and the first varbind's value tag of an answer."""
    _, at, _ = _skip_header(data, 0)  # Message SEQUENCE
    _, _, at = _skip_header(data, at)  # version
    _, _, at = _skip_header(data, at)  # community
    pdu_tag, at, _ = _skip_header(data, at)
    _, start, at = _skip_header(data, at)
    request_id = int.from_bytes(data[start:at], "big", signed=True)
    _, start, at = _skip_header(data, at)
    status = int.from_bytes(data[start:at], "big")
    _, _, at = _skip_header(data, at)  # error-index
    _, at, _ = _skip_header(data, at)  # varbind list
    _, at, _ = _skip_header(data, at)  # first varbind
    _, _, at = _skip_header(data, at)  # its name
    return request_id, pdu_tag, status, data[at]


# -- measuring ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Rate:
    rate: float  # per second
    server_us: float  # agent CPU µs per unit
    client_us: float  # client CPU µs per unit
    extra: dict[str, float] = field(default_factory=dict)


def walk(tool: str, auth: list[str], port: int, pid: int, seconds: float) -> Rate:
    """Walks of the whole tree with a net-snmp tool, repeated for `seconds` (at least one,
    at most 1000): OIDs per second over all of them."""
    command = [tool, *auth, "-m", "", "-On", "-t", "5", "-r", "1"]
    if tool == "snmpbulkwalk":
        command.append("-Cr50")
    command += [f"127.0.0.1:{port}", ".1"]
    oids = walks = 0
    counts: set[int] = set()
    server, client = cpu_seconds(pid), children_cpu()
    start = time.perf_counter()
    while walks < 1000 and (walks == 0 or time.perf_counter() - start < seconds):
        done = subprocess.run(command, capture_output=True, timeout=120, check=True)
        lines = done.stdout.count(b"\n")
        if lines < 100 or done.stderr:
            raise SystemExit(f"{' '.join(command)}: {lines} lines; {done.stderr!r}")
        oids += lines
        counts.add(lines)
        walks += 1
    elapsed = time.perf_counter() - start
    server, client = cpu_seconds(pid) - server, children_cpu() - client
    return Rate(oids / elapsed, 1e6 * server / oids, 1e6 * client / oids,
                {"oids": statistics.median(counts), "walks": walks})  # fmt: skip


def gets(port: int, pid: int, count: int, seconds: float) -> Rate:
    """Sequential GETs: up to `count` requests or `seconds`, one outstanding at a time."""
    datagrams = [get_datagram(n + 1, GET_OIDS[n % len(GET_OIDS)]) for n in range(count)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(2.0)
        # Every OID once, checked, before the clock starts: a value, not an exception.
        for n, datagram in enumerate(datagrams[: len(GET_OIDS)]):
            sock.send(datagram)
            request_id, pdu, status, value_tag = parse_response(sock.recv(65536))
            if (request_id, pdu, status) != (n + 1, 0xA2, 0) or value_tag in (0x80, 0x81, 0x82):
                raise SystemExit(f"GET {GET_OIDS[n]}: {pdu:#x} status {status} {value_tag:#x}")
        latencies: list[float] = []
        lost = 0
        perf = time.perf_counter
        server, client = cpu_seconds(pid), time.process_time()
        start = perf()
        deadline = start + seconds
        for n, datagram in enumerate(datagrams):
            sent = perf()
            sock.send(datagram)
            try:
                while True:
                    request_id, pdu, status, _ = parse_response(sock.recv(65536))
                    if request_id == n + 1:
                        break
            except TimeoutError:
                lost += 1
                continue
            if pdu != 0xA2 or status != 0:
                raise SystemExit(f"GET answered {pdu:#x} error-status {status}")
            latencies.append(perf() - sent)
            if sent > deadline:
                break
        elapsed = perf() - start
        server, client = cpu_seconds(pid) - server, time.process_time() - client
    done = len(latencies)
    return Rate(done / elapsed, 1e6 * server / done, 1e6 * client / done, {
        "p50": 1000 * percentile(latencies, 50), "p99": 1000 * percentile(latencies, 99),
        "requests": done, "lost": lost,
    })  # fmt: skip


# -- the agents ---------------------------------------------------------------------------------


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while not predicate():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


class Snmpd:
    """net-snmp's agent in the foreground on a loopback port, its state in a temp dir."""

    def __init__(self, directory: Path) -> None:
        binary = next((p for p in SNMPD_CANDIDATES if p.exists()), None)
        if binary is None:
            raise SystemExit("no snmpd: run `make deb-deps` as root (unpacks .tools/snmpd)")
        self.binary = binary
        conf = directory / "snmpd.conf"
        conf.write_text(SNMPD_CONFIG)
        persist = directory / "snmpd-persist"
        persist.mkdir()
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "SNMPCONFPATH": str(persist),
               "MIBS": "", "MIBDIRS": ""}  # fmt: skip
        self.port = free_udp_port()
        self.log = open(directory / "snmpd.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(binary), "-f", "-Lo", "-C", "-c", str(conf), f"udp:127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        log = directory / "snmpd.log"
        wait_for(lambda: b"NET-SNMP version" in log.read_bytes(), "snmpd", self.proc)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


class Snmptrapd:
    """snmptrapd printing one line per notification into a file."""

    def __init__(self, directory: Path) -> None:
        conf = directory / "snmptrapd.conf"
        conf.write_text(TRAPD_CONFIG)
        persist = directory / "snmptrapd-persist"
        persist.mkdir()
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "SNMPCONFPATH": str(persist)}
        self.port = free_udp_port()
        self.output = directory / "snmptrapd.out"
        self.out = self.output.open("wb")
        self.proc = subprocess.Popen(
            [SNMPTRAPD, "-f", "-Lo", "-C", "-c", str(conf), "-n", "-m", "", "-On",
             f"udp:127.0.0.1:{self.port}"],
            stdout=self.out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        wait_for(lambda: b"NET-SNMP version" in self.output.read_bytes(), "snmptrapd", self.proc)

    def count(self, needle: str) -> int:
        return self.output.read_bytes().count(needle.encode())

    def wait_count(self, needle: str, target: int, timeout: float) -> tuple[int, float]:
        """Poll until `target` lines carry `needle` or `timeout`: (count, when the count
        last grew, perf_counter)."""
        deadline = time.perf_counter() + timeout
        seen, last = self.count(needle), time.perf_counter()
        while seen < target and time.perf_counter() < deadline:
            time.sleep(0.005)
            now = self.count(needle)
            if now != seen:
                seen, last = now, time.perf_counter()
        return seen, last

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.out.close()


def mfpd_traps(daemon: Daemon, trapd: Snmptrapd, count: int, timeout: float) -> tuple[float, int]:
    """Raise and clear a paper jam `count` times on the control socket (one connection, one
    JSON line each way per step): each raise adds a critical alert, a printerV2Alert."""
    before = trapd.count(PRINTER_V2_ALERT)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(daemon.state / "control.sock"))
        reader = sock.makefile("rb")
        start = time.perf_counter()
        for n in range(2 * count):
            request = {"op": "fault", "kind": "jam", "clear": n % 2 == 1, "target": None}
            sock.sendall(json.dumps(request).encode() + b"\n")
            if not json.loads(reader.readline()).get("ok"):
                raise SystemExit("the control socket refused a fault")
            if time.perf_counter() - start > timeout:
                break
        reader.close()
    raised = (n + 2) // 2
    seen, last = trapd.wait_count(PRINTER_V2_ALERT, before + raised, timeout)
    return (seen - before) / (last - start), raised - (seen - before)


def snmptrap_traps(trapd: Snmptrapd, count: int, timeout: float) -> tuple[float, int]:
    """net-snmp's snmptrap, one process per printerV2Alert-shaped v2c trap."""
    before = trapd.count(PRINTER_V2_ALERT)
    alert = "1.3.6.1.2.1.43.18.1.1"
    command = [
        "snmptrap", "-v2c", "-c", "public", "-m", "", f"127.0.0.1:{trapd.port}", "",
        PRINTER_V2_ALERT, f"{alert}.2.1.1", "i", "1", f"{alert}.4.1.1", "i", "13",
        f"{alert}.5.1.1", "i", "1", f"{alert}.6.1.1", "i", "-1", f"{alert}.7.1.1", "i", "-1",
        f"{alert}.8.1.1", "i", "8",
    ]  # fmt: skip
    start = time.perf_counter()
    sent = 0
    while sent < count and time.perf_counter() - start < timeout:
        subprocess.run(command, check=True, timeout=10)
        sent += 1
    seen, last = trapd.wait_count(PRINTER_V2_ALERT, before + sent, timeout)
    return (seen - before) / (last - start), sent - (seen - before)


# -- the run ------------------------------------------------------------------------------------


def show(label: str, unit: str, rate: Rate, per: str) -> None:
    extra = "  ".join(
        f"{k} {v:.2f}" if isinstance(v, float) and not v.is_integer() else f"{k} {int(v)}"
        for k, v in rate.extra.items()
    )
    print(f"  {label:<34} {rate.rate:9.0f} {unit}   agent {rate.server_us:7.1f} µs/{per}"
          f"   client {rate.client_us:6.1f} µs/{per}   {extra}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gets", type=int, default=20000, help="at most, per GET measurement")
    parser.add_argument("--traps", type=int, default=300, help="alerts raised by mfpd")
    parser.add_argument("--only", choices=("mfpd", "snmpd"))
    parser.add_argument(
        "--filter-rules", type=int, default=0, metavar="N",
        help="load N IP filter rules that the client passes through (the gate's cost)",
    )  # fmt: skip
    args = parser.parse_args()
    for tool in ("snmpbulkwalk", "snmpwalk", "snmptrap"):
        if shutil.which(tool) is None:
            raise SystemExit(f"no {tool}: install Debian's snmp (make deb-deps)")

    tmp = tempfile.TemporaryDirectory(prefix="snmp-bench-")
    directory = Path(tmp.name)
    agents: dict[str, tuple[int, int]] = {}
    trapd = Snmptrapd(directory)
    snmpd: Snmpd | None = None
    daemon: Daemon | None = None
    results: dict[tuple[str, str], list[Rate]] = {}
    try:
        if args.only != "mfpd":
            snmpd = Snmpd(directory)
            agents["snmpd"] = (snmpd.port, snmpd.proc.pid)
            print(f"snmpd: {snmpd.binary} on udp:127.0.0.1:{snmpd.port}")
        if args.only != "snmpd":
            daemon = Daemon(
                MFPD_CONFIG.replace("TRAP_PORT", str(trapd.port)) + filter_rules(args.filter_rules)
            )
            if "snmp" not in daemon.ports:
                raise SystemExit(f"mfpd: no SNMP listener ({daemon.ports})")
            agents["mfpd"] = (daemon.ports["snmp"], daemon.proc.pid)
            print(f"mfpd: udp:127.0.0.1:{daemon.ports['snmp']}")
        tests: list[tuple[str, str, str, Callable[[int, int], Rate]]] = [
            ("bulk", "snmpbulkwalk -Cr50 v2c", "OIDs/s",
             lambda port, pid: walk("snmpbulkwalk", V2C, port, pid, args.seconds)),
            ("next", "snmpwalk (GETNEXT) v2c", "OIDs/s",
             lambda port, pid: walk("snmpwalk", V2C, port, pid, args.seconds)),
            ("get", "GET, sequential, v2c", "req/s",
             lambda port, pid: gets(port, pid, args.gets, args.seconds)),
            ("v3", "snmpbulkwalk -Cr50 v3 authPriv", "OIDs/s",
             lambda port, pid: walk("snmpbulkwalk", V3, port, pid, args.seconds)),
        ]  # fmt: skip
        for run in range(1, args.runs + 1):
            print(f"run {run}", flush=True)
            for key, label, unit, measure in tests:
                # The agents take turns, in alternating order from run to run.
                for name in sorted(agents, reverse=run % 2 == 0):
                    rate = measure(*agents[name])
                    results.setdefault((name, key), []).append(rate)
                    show(f"{name} {label}", unit, rate, "request" if key == "get" else "OID")

        print("medians")
        for key, label, unit, _ in tests:
            medians = {}
            for name in agents:
                rates = [r.rate for r in results[(name, key)]]
                medians[name] = statistics.median(rates)
                runs = ", ".join(f"{r:.0f}" for r in rates)
                print(f"  {name} {label:<32} {medians[name]:9.0f} {unit} ({runs})")
            if len(medians) == 2:
                print(f"  {'mfpd / snmpd':<38} {medians['mfpd'] / medians['snmpd']:9.1%}")
        for name, (_, pid) in agents.items():
            rss, peak = rss_kib(pid) / 1024, rss_kib(pid, "VmHWM") / 1024
            print(f"  {name} RSS {rss:.1f} MiB (peak {peak:.1f})")

        print("traps to snmptrapd (printerV2Alert, v2c)", flush=True)
        if daemon is not None:
            rate, lost = mfpd_traps(daemon, trapd, args.traps, 60)
            print(f"  mfpd, alerts raised on the control socket   {rate:7.0f} traps/s, {lost} lost")
        rate, lost = snmptrap_traps(trapd, min(args.traps, 100), 60)
        print(f"  net-snmp snmptrap, one process per trap     {rate:7.0f} traps/s, {lost} lost")
    finally:
        for agent in (daemon, snmpd, trapd):
            if agent is not None:
                agent.close()
        tmp.cleanup()


if __name__ == "__main__":
    main()
