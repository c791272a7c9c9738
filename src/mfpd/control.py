"""The control socket: how `mfpd refill|fault|status` reach the daemon that owns a state dir.

A Unix stream socket at STATE_DIR/control.sock (mode 0600: only the owner may drive the
device), one JSON request per line, one JSON answer per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The client half lives apart so that the CLI starts without the server's imports.
from mfpd.control_client import SOCKET_NAME as SOCKET_NAME
from mfpd.control_client import ControlError as ControlError
from mfpd.control_client import NotRunning as NotRunning
from mfpd.control_client import call as call
from mfpd.device import secure_print
from mfpd.device.fax_jobs import FaxJobs, FaxRefused, check_recipients
from mfpd.device.image_overwrite import ImageOverwriter, OverwriteRefused
from mfpd.device.machine import Device, DeviceError
from mfpd.device.operator import apply_fault
from mfpd.device.scan_templates import find_template
from mfpd.device.scanner import ScannerError
from mfpd.device.spool import Spool
from mfpd.security.audit_events import Actor, AuditFeed
from mfpd.services.base import ServiceContext
from mfpd.services.ifax_receive import FaxReceiver
from mfpd.services.web.api_scans import ScanError, start_scan
from mfpd.services.web.state import WebState

MAX_REQUEST = 64 * 1024
# Who the audit log names for what is done at the console (the host's owner of the socket).
CONSOLE = Actor(user="console", interface="console")


log = logging.getLogger("mfpd.control")


class ControlServer:
    def __init__(
        self,
        state_dir: Path,
        device: Device,
        spool: Spool,
        web: WebState | None = None,
        overwriter: ImageOverwriter | None = None,
        audit: AuditFeed | None = None,
        certificate: Callable[[], dict[str, object]] | None = None,
        faxes: FaxJobs | None = None,
        fax_receiver: FaxReceiver | None = None,
        ctx: ServiceContext | None = None,
    ) -> None:
        self.path = state_dir / SOCKET_NAME
        self.device = device
        self.spool = spool
        self.web = web
        self.overwriter = overwriter
        self.audit = audit
        # The device certificate's expiry, which status shows beside the device's state.
        self.certificate = certificate or dict
        self.faxes = faxes
        self.fax_receiver = fax_receiver
        # The services' context: the scanner's jobs and originals, and the live configuration
        # (its templates) for `mfpd originals` and `mfpd scan`.
        self.ctx = ctx
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(
            self._client, path=str(self.path), limit=MAX_REQUEST
        )
        self.path.chmod(0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.path.unlink(missing_ok=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ControlError("a request is a JSON object")
                    if request.get("op") == "overwrite":
                        answer = {"ok": True, **(await self._overwrite())}
                    elif request.get("op") == "ifax-send":
                        answer = {"ok": True, **(await self._fax(request))}
                    elif request.get("op") in ("originals-load", "originals-clear", "scan"):
                        answer = {"ok": True, **(await self._scanner(request["op"], request))}
                    else:
                        answer = {"ok": True, **self.handle(request)}
                except (ControlError, DeviceError, ValueError, OverwriteRefused, FaxRefused) as exc:
                    answer = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            log.warning("control socket: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "ping":
            return {}
        if op == "status":
            status = {**self.device.status(), "certificate": self.certificate()}
            if self.overwriter is not None:
                status["image_overwrite"] = self.overwriter.status()
            if self.faxes is not None:
                status["fax"] = self.faxes.status(self.spool)
                if self.fax_receiver is not None and self.fax_receiver.configured:
                    status["fax"]["last_poll"] = self.fax_receiver.last_poll
            return {"status": status}
        if op == "refill":
            return {"message": "refilled " + ", ".join(self.device.refill(str(request["target"])))}
        if op == "fault":
            target = request.get("target")
            message = apply_fault(
                self.device,
                str(request.get("kind")),
                bool(request.get("clear", False)),
                str(target) if target else None,
            )
            return {"message": message}
        if op == "cancel":
            job = self.spool.get(int(request["job"]))
            if job is None:
                raise ControlError(f"no job {request['job']}")
            if not self.spool.cancel(job, "job-canceled-at-device"):
                raise ControlError(f"job {job.id} is already {job.state.value}")
            return {"message": f"job {job.id} canceled"}
        if op == "release":
            return {"message": self._release(int(request["job"]), request.get("passcode"))}
        if op == "token" and self.web is not None:
            name = str(request.get("name") or "script")[:64]
            token, secret = self.web.tokens.create(name)
            if self.audit is not None:
                self.audit.credential_change(
                    CONSOLE, "api_tokens", action="created", token=token.id, name=name
                )
            self.web.log.record("config", f"API token {token.id} ({name}) created at the console")
            return {"message": secret, "id": token.id}
        if op == "password" and self.web is not None:
            password = str(request.get("password") or "")
            if len(password) < 8:
                raise ControlError("the administrator password needs at least 8 characters")
            self.web.admin.set_password(password)
            if self.audit is not None:
                self.audit.credential_change(CONSOLE, "web.admin_password")
            ended = self.web.sessions.end_all(self.web.admin.user)
            self.web.log.record("config", "administrator password changed at the console")
            return {"message": f"password changed; {ended} session(s) ended"}
        raise ControlError(f"unknown operation {op!r}")

    async def _fax(self, request: dict[str, Any]) -> dict[str, Any]:
        """`mfpd ifax send`: the files (paths on this host, read by the daemon, which runs
        as the socket's owner) copied into the fax store, then a fax-send job."""
        if self.faxes is None:
            raise ControlError("Internet Fax is not available")
        recipients = request.get("to")
        files = request.get("files")
        if not isinstance(recipients, list) or not isinstance(files, list) or not files:
            raise ControlError("ifax-send needs a list of recipients and of files")
        check_recipients([str(r) for r in recipients])
        copies: list[Path] = []
        try:
            for name in files:
                source = Path(str(name))
                if not source.is_file():
                    raise ControlError(f"{source}: no such file")
                target = self.faxes.new_document(source.name)
                await asyncio.to_thread(shutil.copyfile, source, target)
                copies.append(target)
            job = self.faxes.create(
                [str(r) for r in recipients], copies, source="console", user=CONSOLE.user,
                name=str(request.get("name") or Path(str(files[0])).name),
            )  # fmt: skip
        except (OSError, FaxRefused, ControlError) as exc:
            for path in copies:
                path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise ControlError(f"cannot read {exc.filename}: {exc.strerror}") from None
            raise
        return {"message": f"fax job {job.id} queued for {', '.join(recipients)}", "job": job.id}

    async def _scanner(self, op: str, request: dict[str, Any]) -> dict[str, Any]:
        """The operator at the scanner: originals put on it or taken away, and a walk-up
        scan started with a template (`mfpd originals`, `mfpd scan`)."""
        ctx = self.ctx
        if ctx is None or ctx.originals is None:
            raise ControlError("there is no scanner on this device")
        try:
            if op == "originals-clear":
                return {"message": ctx.originals.clear()}
            if op == "originals-load":
                to = request.get("to", "feeder")
                if to not in ("feeder", "glass"):
                    raise ControlError("to is feeder or glass")
                paths = _paths(request.get("paths"))
                if to == "glass" and len(paths) != 1:
                    raise ControlError("the glass holds one original")
                return {"message": await ctx.originals.load_async(paths, feeder=to == "feeder")}
            name = str(request.get("template") or "")
            loaded = ""
            if request.get("originals"):
                # Where the template scans from: the feeder, or the glass (one file).
                template = find_template(ctx.config.scan.templates, name)
                paths = _paths(request.get("originals"))
                feeder = template.source == "Feeder"
                if not feeder and len(paths) != 1:
                    raise ControlError(f"template {template.name!r} scans the glass: one file")
                loaded = await ctx.originals.load_async(paths, feeder=feeder) + "; "
            scan = start_scan(ctx, name, source="walkup", user=CONSOLE.user, host="")
        except ScannerError as exc:
            raise ControlError(str(exc)) from None
        except ScanError as exc:
            reason = exc.extra.get("reason")
            raise ControlError(f"{exc}" + (f" ({reason})" if reason else "")) from None
        if self.web is not None:
            self.web.log.record(
                "job", f"walk-up scan {scan.job.id} with template {name!r} started at the console"
            )
        return {
            "job": scan.job.id,
            "uuid": scan.uuid,
            "message": f"{loaded}job {scan.job.id} scanning with {name!r}",
        }

    async def _overwrite(self) -> dict[str, Any]:
        """`mfpd overwrite`: the on-demand image overwrite, answered when it is done."""
        if self.overwriter is None:
            raise ControlError("image overwrite is not available")
        report = await self.overwriter.on_demand(user=CONSOLE.user, interface=CONSOLE.interface)
        verdict = "verified" if report.verified else "NOT verified: " + "; ".join(report.errors)
        return {
            "message": f"overwrote {report.files} files ({report.bytes} bytes) and "
            f"{report.free_space_bytes} bytes of free space, {verdict}",
            "report": report.to_dict(),
        }

    def _release(self, job_id: int, passcode: object) -> str:
        """The front panel's release: a secure-print job only with its passcode (PWG
        5100.11), and a wrong one is logged, as a device's audit trail would."""
        job = self.spool.get(job_id)
        if job is None:
            raise ControlError(f"no job {job_id}")
        locked = secure_print.PASSWORD_WAIT in job.state_reasons
        if locked and not (isinstance(passcode, str) and secure_print.verify(job, passcode)):
            log.warning("control: wrong passcode for secure job %d", job.id)
            raise ControlError(f"job {job.id}: wrong passcode")
        if not self.spool.release(job):
            raise ControlError(f"job {job.id} is {job.state.value}, not held")
        return f"job {job.id} released"


def _paths(value: object) -> list[Path]:
    """The files of a request: absolute paths (the daemon's working directory is not the
    caller's), read by the daemon, which runs as the same user."""
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        raise ControlError("paths is a list of files")
    paths = [Path(p) for p in value]
    relative = [str(p) for p in paths if not p.is_absolute()]
    if relative:
        raise ControlError(f"not absolute: {', '.join(relative)}")
    return paths
