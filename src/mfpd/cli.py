"""The command line: `mfpd serve|jobs|status|ports|audit|print|refill|fault|cancel|release|
token|password|overwrite|audit-log|originals|scan`."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Only light imports here (standard library, no pydantic, no aiohttp): `mfpd print`, `jobs`
# and `status` are run from scripts, often; each command imports what else it needs.
from mfpd import __version__
from mfpd.control_client import ControlError, call
from mfpd.device.alerts import FAULTS
from mfpd.errors import ConfigError

EXIT_USAGE = 2


def default_state_dir() -> Path:
    return Path(os.environ.get("MFPD_STATE_DIR") or "mfpd-data")


def _state_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where jobs, state and ports.json live (default $MFPD_STATE_DIR or ./mfpd-data)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mfpd", description="The network controller of a virtual office MFP."
    )
    parser.add_argument("--version", action="version", version=f"mfpd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start every enabled service")
    serve.add_argument("--config", type=Path, help="TOML configuration file")
    _state_dir_arg(serve)
    serve.add_argument("--bind", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port-offset", type=int, default=0, help="added to every port")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    serve.add_argument(
        "--keep-going",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start even if some ports cannot be bound (default: [daemon] keep_going, false: "
        "exit 1 naming them)",
    )
    serve.add_argument(
        "--event-loop",
        choices=["auto", "uvloop", "asyncio"],
        help="the event loop (default: [daemon] event_loop of the configuration, auto)",
    )

    jobs = sub.add_parser("jobs", help="list the jobs")
    _state_dir_arg(jobs)
    jobs.add_argument("--json", action="store_true", help="machine-readable output")

    status = sub.add_parser("status", help="device state, alerts, supplies, trays, counters")
    _state_dir_arg(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    ports = sub.add_parser("ports", help="the port table a configuration would open")
    ports.add_argument("--config", type=Path, help="TOML configuration file")
    ports.add_argument("--bind", default="127.0.0.1")
    ports.add_argument("--port-offset", type=int, default=0)
    ports.add_argument("--json", action="store_true")

    audit = sub.add_parser(
        "audit",
        help="scan a device's ports, identify what answers, compare with the configuration",
    )
    audit.add_argument(
        "host", nargs="?", help="the device (default: the running daemon of the state dir)"
    )
    audit.add_argument(
        "--config", type=Path, help="the configuration that promises the table (TOML file)"
    )
    audit.add_argument(
        "--port-offset", type=int, default=None, help="added to every standard port (default 0)"
    )
    audit.add_argument("--community", default="public", help="SNMP community (default public)")
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    _state_dir_arg(audit)

    refill = sub.add_parser("refill", help="fill a tray or replace a supply")
    refill.add_argument(
        "target", help="tray-1..tray-5, bypass, black, cyan, ..., drum, trays, toner, bins, all"
    )
    _state_dir_arg(refill)

    fault = sub.add_parser("fault", help="raise or clear a device fault")
    fault.add_argument("kind", choices=FAULTS)
    fault.add_argument("target", nargs="?", help="the tray or supply (default: all / black)")
    fault.add_argument("--clear", action="store_true")
    _state_dir_arg(fault)

    cancel = sub.add_parser("cancel", help="cancel a job at the device")
    cancel.add_argument("job", type=int)
    _state_dir_arg(cancel)

    release = sub.add_parser(
        "release", help="release a held job at the device (a secure-print job needs its passcode)"
    )
    release.add_argument("job", type=int)
    release.add_argument("--passcode", help="the passcode of a secure-print job")
    _state_dir_arg(release)

    printer = sub.add_parser(
        "print", help="send a file as a client would (IPP, LPD or raw 9100); print the job id"
    )
    printer.add_argument("file", type=Path)
    printer.add_argument(
        "--via", choices=["ipp", "lpd", "raw"], default="ipp", help="the protocol (default ipp)"
    )
    printer.add_argument("--copies", type=_copies, default=1)
    printer.add_argument("--user", help="the job's owner (default: your login name)")
    printer.add_argument("--name", help="the job's name (default: the file's name)")
    printer.add_argument(
        "--format",
        default="application/octet-stream",
        help="IPP document-format (default application/octet-stream: the device senses it)",
    )
    printer.add_argument("--queue", default="lp", help="the LPD queue (default lp)")
    printer.add_argument("--host", help="the printer (default: the daemon of the state dir)")
    printer.add_argument(
        "--port", type=int, help="its port (default: the live port table of the state dir)"
    )
    _state_dir_arg(printer)

    ifax = sub.add_parser("ifax", help="Internet Fax (RFC 3965): send documents by mail")
    ifax_sub = ifax.add_subparsers(dest="ifax_command", required=True)
    fax_send = ifax_sub.add_parser(
        "send", help="render files to TIFF-F and mail them through [smtp]; print the job id"
    )
    fax_send.add_argument(
        "--to", action="append", required=True, metavar="ADDR",
        help="a recipient's email address (repeat, or separate with commas)",
    )  # fmt: skip
    fax_send.add_argument("files", nargs="+", type=Path, metavar="FILE")
    fax_send.add_argument("--name", help="the job's name (default: the first file's name)")
    _state_dir_arg(fax_send)

    token = sub.add_parser("token", help="create an API token for scripts (shown once)")
    token.add_argument("name", help="what the token is for")
    _state_dir_arg(token)

    password = sub.add_parser("password", help="set the web administrator's password")
    password.add_argument("--password", help="the new password (default: read from stdin)")
    _state_dir_arg(password)

    originals = sub.add_parser(
        "originals", help="put files on the scanner's glass or in its document feeder"
    )
    originals_sub = originals.add_subparsers(dest="originals_command", required=True)
    load = originals_sub.add_parser(
        "load", help="load files (PDF, PostScript, PNG, JPEG, TIFF): a sheet per page"
    )
    load.add_argument("files", nargs="+", type=Path, metavar="FILE")
    where = load.add_mutually_exclusive_group()
    where.add_argument(
        "--feeder", dest="to", action="store_const", const="feeder", help="the document "
        "feeder (the default)"
    )  # fmt: skip
    where.add_argument(
        "--glass", dest="to", action="store_const", const="glass", help="the glass (one page)"
    )
    _state_dir_arg(load)
    clear = originals_sub.add_parser(
        "clear", help="take every original away (the glass holds the test chart again)"
    )
    _state_dir_arg(clear)

    scan = sub.add_parser(
        "scan", help="start a walk-up scan with a template on the running daemon; print the job id"
    )
    scan.add_argument("template", help="the template's name ([[scan.templates]])")
    scan.add_argument(
        "--originals",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="load these first where the template scans from (feeder or glass)",
    )
    _state_dir_arg(scan)

    overwrite = sub.add_parser(
        "overwrite",
        help="on-demand image overwrite: finished jobs' spool files and free space (refused "
        "while a job prints)",
    )
    _state_dir_arg(overwrite)

    audit_log = sub.add_parser(
        "audit-log", help="the security audit log, newest first (daemon running or not)"
    )
    audit_log.add_argument("--json", action="store_true", help="machine-readable output")
    audit_log.add_argument(
        "--since",
        type=_since,
        help="only entries from this time: ISO 8601 (2026-12-07T10:00, UTC unless it says), "
        "seconds since the epoch, or an age such as 30m, 2h, 7d",
    )
    audit_log.add_argument("--limit", type=int, default=None, help="at most this many entries")
    _state_dir_arg(audit_log)
    return parser


_AGES = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(text: str) -> float:
    """A point in time for --since: ISO 8601, epoch seconds, or an age (30m, 2h, 7d)."""
    import time

    text = text.strip()
    try:
        if text[-1:] in _AGES and text[:-1].replace(".", "", 1).isdigit():
            return time.time() - float(text[:-1]) * _AGES[text[-1]]
        if text.replace(".", "", 1).isdigit():
            return float(text)
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is no time: ISO 8601, epoch seconds or an age like 2h"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _copies(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 999:
        raise argparse.ArgumentTypeError("copies is 1 to 999")
    return value


def _print(args: argparse.Namespace) -> int:
    import getpass

    from mfpd.submit import PrintRequest, SubmitError, live_port, submit

    # The state dir tells the port (unless given) and, for LPD and raw, the job id.
    local = args.host is None or args.state_dir is not None
    state_dir = args.state_dir or default_state_dir()
    try:
        if args.port is None:
            host, port = live_port(state_dir, args.via)
            host = args.host or host
        else:
            host, port = args.host or "127.0.0.1", args.port
        request = PrintRequest(
            path=args.file,
            via=args.via,
            host=host,
            port=port,
            user=args.user or getpass.getuser(),
            copies=args.copies,
            name=args.name or "",
            document_format=args.format,
            queue=args.queue,
        )
        job_id = submit(request, state_dir if local else None)
    except SubmitError as exc:
        print(f"mfpd: {exc}", file=sys.stderr)
        return 1
    if job_id is None:
        # Sent and acknowledged: not a failure, but nothing to print on stdout.
        hint = f"not found in state dir {state_dir}" if local else "give --state-dir to find it"
        print(f"mfpd: sent; {args.via} has no job id in the protocol ({hint})", file=sys.stderr)
        return 0
    print(job_id)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from mfpd.config import load_config

    config = load_config(args.config)
    loop_factory = _loop_factory(args.event_loop or config.daemon.event_loop)
    # Imported here so that `jobs`, `status` and the like start fast.
    from mfpd.daemon import AlreadyRunning, BindFailed, Daemon

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    state_dir = (args.state_dir or default_state_dir()).resolve()
    keep_going = config.daemon.keep_going if args.keep_going is None else args.keep_going
    daemon = Daemon(
        config, state_dir, bind=args.bind, port_offset=args.port_offset, keep_going=keep_going
    )
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(daemon.run())
    except (AlreadyRunning, BindFailed) as exc:
        print(f"mfpd: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"mfpd: cannot start: {exc}", file=sys.stderr)
        return 1


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop (it costs less CPU per request), or None for asyncio's own: asked for,
    or "auto" where uvloop is not installed."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("daemon.event_loop is uvloop, which is not installed") from None
        return None
    return uvloop.new_event_loop


# C0 and C1 control characters a log message may carry from the network, written as \xNN.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c != 0x09}


class EscapingFormatter(logging.Formatter):
    """Peers choose job names, queue names and PJL text: none of it may forge a log line or
    drive the operator's terminal. Tracebacks (added after the message) keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record).translate(_ESCAPES)


def _time(value: float | None) -> str:
    if not value:
        return "-"
    return datetime.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def _jobs(args: argparse.Namespace) -> int:
    from mfpd.device.store import read_jobs

    jobs = read_jobs(args.state_dir or default_state_dir())
    if args.json:
        print(json.dumps([job.to_dict() for job in jobs], indent=2))
        return 0
    if not jobs:
        print("no jobs")
        return 0
    print(
        f"{'ID':>5} {'KIND':<5} {'SOURCE':<6} {'STATE':<10} {'PAGES':>5} {'BYTES':>10} "
        f"{'USER':<12} NAME"
    )
    for job in jobs:
        pages = "-" if job.pages is None else str(job.pages * job.copies)
        if job.kind == "scan":
            pages = str(job.impressions_completed)  # the images scanned
        print(
            f"{job.id:>5} {job.kind:<5} {job.source:<6} {job.state.value:<10} {pages:>5} "
            f"{job.bytes:>10} {job.user[:12]:<12} {job.name}"
        )
    return 0


def _print_status(status: dict[str, Any]) -> None:
    ident = status["identity"]
    print(f"{ident['make']} {ident['model']}  serial {ident['serial_number']}")
    print(f"state:   {status['state']} ({', '.join(status['state_reasons'])})")
    print(f"display: {status['display']}")
    print("alerts:")
    for alert in status["alerts"] or [{"severity": "", "code": "", "description": "none"}]:
        print(f"  {alert['severity']:<8} {alert['code']!s:>5} {alert['description']}")
    print("supplies:")
    for s in status["supplies"]:
        print(f"  {s['key']:<8} {s['name']:<24} {s['percent']:>3}%  ({s['level']}/{s['capacity']})")
    print("trays:")
    for t in status["trays"]:
        print(
            f"  {t['key']:<8} {t['media']:<22} {t['level']:>5}/{t['capacity']:<5} {t['media_type']}"
        )
    print("bins:")
    for b in status["bins"]:
        print(f"  {b['key']:<12} {b['level']}/{b['capacity']}")
    c = status["counters"]
    print(
        f"counters: {c['impressions']} impressions ({c['color_impressions']} colour, "
        f"{c['mono_impressions']} black), {c['sheets']} sheets, {c['jobs_completed']} jobs"
    )
    scanner = status.get("scanner")
    if scanner:
        print(
            f"scanner: {scanner['state']}, feeder {scanner['feeder_sheets']}/"
            f"{scanner['feeder_capacity']} sheets ({scanner['adf_state']}), "
            f"glass: {scanner['glass']}"
        )
        images = scanner.get("images") or {}
        per_mode = ", ".join(f"{mode} {count}" for mode, count in sorted(images.items()))
        print(f"  images: {sum(images.values())}" + (f" ({per_mode})" if per_mode else ""))
    fax = status.get("fax")
    if fax:
        print(
            f"fax:     {fax['sent']} sent ({fax['pages_sent']} pages), {fax['received']} received "
            f"({fax['pages_received']} pages), {fax['send_failed']} not sent, "
            f"{fax['receive_failed']} refused"
        )
        poll = fax.get("last_poll")
        if poll is not None:
            said = (
                f"{poll['messages']} message(s), {poll['deleted']} deleted"
                if poll.get("outcome") == "ok"
                else f"{poll.get('outcome', 'not yet')}: {poll.get('message', '')}".rstrip(": ")
            )
            print(f"         last poll of the mailbox: {said}")
    overwrite = status.get("image_overwrite")
    if overwrite:
        print(f"image overwrite: {overwrite['mode']}" + (
            f", {overwrite['running']} overwrite running" if overwrite["running"] else ""
        ))  # fmt: skip
        for label, key in (("last", "last"), ("last on demand", "last_on_demand")):
            report = overwrite.get(key)
            if report:
                verdict = "verified" if report["verified"] else "NOT VERIFIED"
                what = f"job {report['job']}" if report["job"] is not None else report["mode"]
                print(
                    f"  {label}: {what} {_time(report['started'])} to {_time(report['ended'])}, "
                    f"{report['files']} files, {report['bytes']} bytes, "
                    f"{report['free_space_bytes']} bytes of free space, {verdict}"
                )
    _print_network(status.get("network") or {})
    cert = status.get("certificate") or {}
    if cert:
        flag = {"expired": "  EXPIRED", "expiring": "  WARNING: renew it"}.get(
            cert["condition"], ""
        )
        print(
            f"certificate: {cert['subject']}, valid until {cert['not_after']} "
            f"({cert['days_left']} days){flag}"
        )


def _print_network(network: dict[str, Any]) -> None:
    """The DHCP client's lease (device/network.py), when the client is on."""
    if not network or network.get("dhcp") == "off":
        return
    detail = f" ({network['detail']})" if network.get("detail") else ""
    print(f"dhcp:    {network['dhcp']}{detail}")
    lease = network.get("lease")
    if not lease:
        return
    print(
        f"  address: {lease['address']}/{lease['prefix_length']} on {lease['interface']} "
        f"from {lease['server']}"
    )
    print(
        f"  router {', '.join(lease['routers']) or 'none'}; "
        f"DNS {', '.join(lease['dns_servers']) or 'none'}; domain {lease['domain'] or 'none'}"
        + (f"; host name {lease['host_name']}" if lease["host_name"] else "")
    )
    print(
        f"  obtained {_time(lease['obtained'])}, expires {_time(lease['expires'])} "
        f"({lease['lease_time']} s), T1 {_time(lease['renew_at'])}, "
        f"T2 {_time(lease['rebind_at'])}, {lease['renewals']} renewals"
    )


def _status(args: argparse.Namespace) -> int:
    status = call(args.state_dir or default_state_dir(), {"op": "status"})["status"]
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        _print_status(status)
    return 0


def _audit_log(args: argparse.Namespace) -> int:
    from mfpd.security.audit_log import CAPACITY, iso_time, read_entries

    limit = args.limit if args.limit and args.limit > 0 else CAPACITY * 100
    entries = read_entries(args.state_dir or default_state_dir(), since=args.since, limit=limit)
    if args.json:
        print(json.dumps({"entries": [e.to_dict() for e in entries]}, indent=2))
        return 0
    if not entries:
        print("no audit log entries")
        return 0
    print(
        f"{'ID':>6} {'TIME (UTC)':<20} {'EVENT':>5} {'NAME':<19} {'USER':<12} "
        f"{'ADDRESS':<16} {'IFACE':<8} {'OUTCOME':<9} DETAILS"
    )
    for e in entries:
        details = json.dumps(e.details, separators=(",", ":"))
        print(
            f"{e.id:>6} {iso_time(e.time):<20} {e.event_id:>5} {e.event:<19} "
            f"{(e.user or '-')[:12]:<12} {(e.address or '-')[:16]:<16} "
            f"{(e.interface or '-')[:8]:<8} {e.outcome:<9} {details}"
        )
    return 0


def _originals(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or default_state_dir()
    if args.originals_command == "clear":
        request: dict[str, Any] = {"op": "originals-clear"}
    else:
        # The daemon reads the files itself (it runs as the same user): absolute paths, as
        # its working directory is not ours.
        request = {
            "op": "originals-load",
            "paths": [str(path.resolve()) for path in args.files],
            "to": args.to or "feeder",
        }
    print(call(state_dir, request)["message"])
    return 0


def _scan(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or default_state_dir()
    request: dict[str, Any] = {"op": "scan", "template": args.template}
    if args.originals:
        request["originals"] = [str(path.resolve()) for path in args.originals]
    answer = call(state_dir, request)
    print(answer["job"])
    return 0


def _overwrite(args: argparse.Namespace) -> int:
    # Three passes over the free space take a while: no ten-second answer here.
    answer = call(args.state_dir or default_state_dir(), {"op": "overwrite"}, timeout=3600.0)
    print(answer["message"])
    return 0 if answer.get("report", {}).get("verified", False) else 1


def _ports(args: argparse.Namespace) -> int:
    from mfpd.config import load_config
    from mfpd.ports import format_table, plan

    rows = plan(load_config(args.config), args.bind, args.port_offset)
    if args.json:
        print(json.dumps([row.to_dict() for row in rows], indent=2))
    else:
        print(format_table(rows))
    return 0


def _audit(args: argparse.Namespace) -> int:
    # The scanner and what it compares with load only for this command.
    from mfpd.port_audit.command import run_audit

    return run_audit(
        host=args.host,
        config=args.config,
        offset=args.port_offset,
        community=args.community,
        state_dir=args.state_dir or default_state_dir(),
        as_json=args.json,
    )


def _action(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or default_state_dir()
    if args.command == "refill":
        request: dict[str, Any] = {"op": "refill", "target": args.target}
    elif args.command == "fault":
        request = {"op": "fault", "kind": args.kind, "clear": args.clear, "target": args.target}
    elif args.command == "release":
        request = {"op": "release", "job": args.job, "passcode": args.passcode}
    elif args.command == "token":
        request = {"op": "token", "name": args.name}
    elif args.command == "ifax":
        request = {
            "op": "ifax-send", "to": args.to, "name": args.name,
            "files": [str(path.resolve()) for path in args.files],
        }  # fmt: skip
    elif args.command == "password":
        secret = args.password if args.password is not None else sys.stdin.readline().rstrip("\n")
        request = {"op": "password", "password": secret}
    else:
        request = {"op": "cancel", "job": args.job}
    print(call(state_dir, request)["message"])
    return 0


COMMANDS = {
    "serve": _serve,
    "jobs": _jobs,
    "status": _status,
    "ports": _ports,
    "audit": _audit,
    "refill": _action,
    "fault": _action,
    "cancel": _action,
    "release": _action,
    "print": _print,
    "token": _action,
    "ifax": _action,
    "password": _action,
    "overwrite": _overwrite,
    "audit-log": _audit_log,
    "originals": _originals,
    "scan": _scan,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = COMMANDS[args.command](args)
        # Output to a pipe is buffered: a reader that left shows here, in the handler below,
        # not in the interpreter's flush at exit.
        sys.stdout.flush()
        return status
    except ConfigError as exc:
        print(f"mfpd: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ControlError as exc:
        print(f"mfpd: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of the output left (`mfpd jobs | head`): end quietly, as a Unix tool
        # killed by SIGPIPE does, with stdout on /dev/null so the interpreter's last flush
        # does not raise again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
