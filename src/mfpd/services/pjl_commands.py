"""What the device answers to PJL: the business side of the PJL codec (HP PJL Technical
Reference Manual, "PJLTRM" below). One `PjlSession` per raw connection; the environment
defaults (`PjlDefaults`) belong to the device and outlive connections.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mfpd.codecs import pjl
from mfpd.codecs.pjl import CommandKind, PjlCommand
from mfpd.device.machine import Device
from mfpd.services.pjl_volume import PjlVolume, VolumeError, VolumeWriter


@dataclass(frozen=True)
class Variable:
    """A PJL environment variable: its factory default and what it accepts (PJLTRM 10)."""

    default: str
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None

    def accepts(self, value: str) -> bool:
        if self.choices:
            return value in self.choices
        if self.low is not None and self.high is not None:
            return _is_number(value) and self.low <= int(value) <= self.high
        return True


PAPERS = ("A4", "LETTER", "LEGAL", "A3", "A5", "EXECUTIVE", "LEDGER", "A6")
PAPER_MEDIA = {
    "A4": "iso_a4_210x297mm",
    "LETTER": "na_letter_8.5x11in",
    "LEGAL": "na_legal_8.5x14in",
    "A3": "iso_a3_297x420mm",
    "A5": "iso_a5_148x210mm",
    "EXECUTIVE": "na_executive_7.25x10.5in",
    "LEDGER": "na_ledger_11x17in",
    "A6": "iso_a6_105x148mm",
}

LANGUAGES = ("PCL", "PCLXL", "POSTSCRIPT", "PDF", "URF", "PWGRASTER")
LANGUAGE_MIME = {
    "PCL": "application/vnd.hp-pcl",
    "PCLXL": "application/vnd.hp-pclxl",
    "POSTSCRIPT": "application/postscript",
    "PDF": "application/pdf",
    "URF": "image/urf",
    "PWGRASTER": "image/pwg-raster",
}


def variables(trays: int) -> dict[str, Variable]:
    sources = ("AUTO", *(f"TRAY{n}" for n in range(1, trays)), "MANUALFEED")
    return {
        "COPIES": Variable("1", low=1, high=999),
        "QTY": Variable("1", low=1, high=999),
        "PAPER": Variable("A4", PAPERS),
        "ORIENTATION": Variable("PORTRAIT", ("PORTRAIT", "LANDSCAPE")),
        "DUPLEX": Variable("OFF", ("OFF", "ON")),
        "BINDING": Variable("LONGEDGE", ("LONGEDGE", "SHORTEDGE")),
        "RESOLUTION": Variable("600", ("600", "1200")),
        "ECONOMODE": Variable("OFF", ("OFF", "ON")),
        # AUTO counts pages as black: the controller does not look at page content.
        "RENDERMODE": Variable("AUTO", ("AUTO", "COLOR", "GRAYSCALE")),
        "MEDIASOURCE": Variable("AUTO", sources),
        "MEDIATYPE": Variable("PLAIN", ("PLAIN", "RECYCLED", "LETTERHEAD", "BOND", "CARDSTOCK")),
        "OUTBIN": Variable("UPPER", ("UPPER", "LOWER")),
        "PERSONALITY": Variable("AUTO", ("AUTO", *LANGUAGES)),
        "TIMEOUT": Variable("15", low=5, high=300),
        "LANG": Variable("ENGLISH", ("ENGLISH", "FRENCH", "GERMAN", "SPANISH", "ITALIAN")),
        "PAGEPROTECT": Variable("AUTO", ("AUTO", "OFF", "ON")),
    }


# Variables only a job sets (PJLTRM 10 "JOBNAME", "USERNAME"); no default, no INFO entry.
JOB_ONLY = ("JOBNAME", "USERNAME", "JOBATTR")


class PjlDefaults:
    """The device's PJL default environment (DEFAULT, DINQUIRE, INITIALIZE); kept in NVRAM
    on a real printer, here handed to `save` so the daemon persists it."""

    def __init__(
        self,
        table: dict[str, Variable],
        saved: dict[str, str],
        save: Callable[[dict[str, str]], None],
    ) -> None:
        self.table = table
        self._save = save
        self.values = {name: var.default for name, var in table.items()}
        self.values.update({k: v for k, v in saved.items() if k in table and table[k].accepts(v)})

    def set(self, name: str, value: str) -> bool:
        var = self.table.get(name)
        if var is None or not var.accepts(value):
            return False
        self.values[name] = value
        self._save(self.values)
        return True

    def initialize(self) -> None:
        self.values = {name: var.default for name, var in self.table.items()}
        self._save(self.values)


USTATUS_KINDS = {
    "DEVICE": ("OFF", "ON", "VERBOSE"),
    "JOB": ("OFF", "ON"),
    "PAGE": ("OFF", "ON"),
}
TIMED_RANGE = (5, 300)


class PjlSession:
    """The PJL side of one raw connection: environment, unsolicited status, replies."""

    def __init__(self, device: Device, defaults: PjlDefaults, volume: PjlVolume | None) -> None:
        self.device = device
        self.defaults = defaults
        self.volume = volume
        self.current: dict[str, str] = {}  # SET values of the job being received
        self.ustatus: dict[str, str] = {"DEVICE": "OFF", "JOB": "OFF", "PAGE": "OFF"}
        self.timed = 0
        self._download: VolumeWriter | None = None
        self._download_command = "FSDOWNLOAD"
        self._download_name = ""
        self._download_error: VolumeError | None = None

    # -- environment ---------------------------------------------------------------------

    def value(self, name: str) -> str | None:
        return self.current.get(name, self.defaults.values.get(name))

    def job_attributes(self) -> dict[str, Any]:
        """Job attributes the sender chose with SET for this job."""
        attributes: dict[str, Any] = {"pjl": dict(self.current)}
        copies = self.current.get("COPIES") or self.current.get("QTY")
        if copies:
            attributes["copies"] = int(copies)
        mode = self.value("RENDERMODE")
        if mode in ("COLOR", "GRAYSCALE"):
            attributes["color"] = mode == "COLOR"
        if "PAPER" in self.current:
            attributes["media"] = PAPER_MEDIA[self.current["PAPER"]]
        source = self.current.get("MEDIASOURCE")
        if source and source.startswith("TRAY"):
            attributes["tray"] = f"tray-{source[4:]}"
        elif source == "MANUALFEED":
            attributes["tray"] = "bypass"
        if self.value("DUPLEX") == "ON":
            attributes["sides"] = "two-sided-" + (
                "long-edge" if self.value("BINDING") == "LONGEDGE" else "short-edge"
            )
        return attributes

    def end_job(self) -> None:
        # PJLTRM 6: SET values last until the end of the job (EOJ or UEL).
        self.current.clear()

    # -- commands ------------------------------------------------------------------------

    def handle(self, cmd: PjlCommand) -> bytes:
        """Act on one command; the reply bytes (empty when PJL sends none)."""
        kind = cmd.kind
        if kind is CommandKind.INFO:
            return self._info(cmd)
        if kind in (CommandKind.INQUIRE, CommandKind.DINQUIRE):
            return self._inquire(cmd)
        if kind is CommandKind.ECHO:
            return pjl.format_echo(cmd.text)
        if kind is CommandKind.SET:
            self._set(cmd)
        elif kind is CommandKind.DEFAULT:
            for opt in cmd.options:
                if opt.value is not None:
                    self.defaults.set(opt.key, opt.value.upper())
        elif kind is CommandKind.INITIALIZE:
            self.defaults.initialize()
            self.current.clear()
        elif kind is CommandKind.RESET:
            self.current.clear()
        elif kind is CommandKind.USTATUSOFF:
            self.ustatus = dict.fromkeys(self.ustatus, "OFF")
            self.timed = 0
        elif kind is CommandKind.USTATUS:
            return self._ustatus(cmd)
        elif kind in (CommandKind.RDYMSG, CommandKind.OPMSG, CommandKind.STMSG):
            field = {
                CommandKind.RDYMSG: "ready_message",
                CommandKind.OPMSG: "operator_message",
                CommandKind.STMSG: "status_message",
            }[kind]
            self.device.set_console(**{field: (cmd.get("DISPLAY") or "")[:80]})
        elif kind.name.startswith("FS"):
            return self._filesystem(cmd)
        return b""

    def _set(self, cmd: PjlCommand) -> None:
        for opt in cmd.options:
            if opt.value is None:
                continue
            if opt.key in JOB_ONLY:
                self.current[opt.key] = opt.value
                continue
            var = self.defaults.table.get(opt.key)
            value = opt.value.upper()
            # PJLTRM 6: an unknown variable or a value out of range is ignored.
            if var is not None and var.accepts(value):
                self.current[opt.key] = value

    def _inquire(self, cmd: PjlCommand) -> bytes:
        default = cmd.kind is CommandKind.DINQUIRE
        name = cmd.words[0] if cmd.words else (cmd.options[0].key if cmd.options else "")
        if default:
            value = self.defaults.values.get(name)
        else:
            value = self.value(name) if name not in JOB_ONLY else self.current.get(name)
        return pjl.format_inquire(name, value, default=default)

    def _ustatus(self, cmd: PjlCommand) -> bytes:
        for opt in cmd.options:
            if opt.value is None:
                continue
            value = opt.value.upper()
            if opt.key in USTATUS_KINDS and value in USTATUS_KINDS[opt.key]:
                self.ustatus[opt.key] = value
            elif opt.key == "TIMED" and _is_number(value):
                seconds = int(value)
                self.timed = (
                    0 if seconds == 0 else max(TIMED_RANGE[0], min(seconds, TIMED_RANGE[1]))
                )
        if self.ustatus["DEVICE"] != "OFF":
            # PJLTRM 7: turning DEVICE status on answers the current status at once.
            return self.device_status("DEVICE")
        return b""

    def device_status(self, kind: str) -> bytes:
        code, display, online = self.device.pjl_status()
        return pjl.format_ustatus(kind, code, display, online)

    # -- INFO ----------------------------------------------------------------------------

    def _info(self, cmd: PjlCommand) -> bytes:
        category = cmd.words[0] if cmd.words else ""
        device = self.device
        if category == "ID":
            return pjl.format_info_id(device.identity.make_and_model)
        if category == "STATUS":
            return pjl.format_info_status(*device.pjl_status())
        if category == "PAGECOUNT":
            # The bare number, as LaserJets answer and page-accounting tools parse it.
            return pjl.format_info("PAGECOUNT", [str(device.counters.impressions)])
        if category == "CONFIG":
            return pjl.format_info("CONFIG", self._config_lines())
        if category == "MEMORY":
            return pjl.format_info("MEMORY", ["TOTAL=536870912", "LARGEST=268435456"])
        if category == "VARIABLES":
            return pjl.format_info("VARIABLES", self._variable_lines())
        if category == "USTATUS":
            lines = []
            for name, values in USTATUS_KINDS.items():
                lines += _enumerated(f"{name}={self.ustatus[name]}", values)
            lines += [f"TIMED={self.timed} [2 RANGE]", f"\t{TIMED_RANGE[0]}", f"\t{TIMED_RANGE[1]}"]
            return pjl.format_info("USTATUS", lines)
        if category == "FILESYS" and self.volume is not None:
            return pjl.format_info_filesys(self.volume.filesys())
        if category == "PRODINFO":
            ident = device.identity
            return pjl.format_info(
                "PRODINFO",
                [f'MODEL="{ident.model}"', f'SERIALNUMBER="{ident.serial_number}"',
                 f'FIRMWARE="{ident.firmware}"'],
            )  # fmt: skip
        return pjl.format_info_unknown(category)

    def _config_lines(self) -> list[str]:
        device = self.device
        lines = _enumerated(
            "IN TRAYS", [f"INTRAY{t.index} {t.media.upper()}" for t in device.trays]
        )
        lines += _enumerated("OUT TRAYS", [b.name.upper() for b in device.bins])
        lines += _enumerated("PAPERS", PAPERS)
        lines += _enumerated("LANGUAGES", LANGUAGES)
        lines += _enumerated("USTATUS", [*USTATUS_KINDS, "TIMED"])
        lines += ["DUPLEX", "MEMORY=536870912", "DISPLAY LINES=4", "DISPLAY CHARACTER SIZE=40"]
        return lines

    def _variable_lines(self) -> list[str]:
        lines: list[str] = []
        for name, var in self.defaults.table.items():
            head = f"{name}={self.defaults.values[name]}"
            if var.choices:
                lines += _enumerated(head, var.choices)
            else:
                lines += [f"{head} [2 RANGE]", f"\t{var.low}", f"\t{var.high}"]
        return lines

    # -- file system (PJLTRM 9) ----------------------------------------------------------

    def _filesystem(self, cmd: PjlCommand) -> bytes:
        name = cmd.get("NAME") or ""
        kind = cmd.kind
        if self.volume is None:
            return pjl.format_fileerror(pjl.FileError.NO_FILE_SYSTEM, kind.value, name or None)
        try:
            if kind is CommandKind.FSDIRLIST:
                entry = cmd.get_int("ENTRY") or 1
                listing = self.volume.dirlist(name, entry, cmd.get_int("COUNT"))
                return pjl.format_fsdirlist(name, listing, entry)
            if kind is CommandKind.FSQUERY:
                return pjl.format_fsquery(name, self.volume.query(name))
            if kind is CommandKind.FSUPLOAD:
                offset = cmd.get_int("OFFSET") or 0
                return pjl.format_fsupload(
                    name, offset, self.volume.upload(name, offset, cmd.get_int("SIZE"))
                )
            if kind is CommandKind.FSDELETE:
                self.volume.delete(name)
            elif kind is CommandKind.FSMKDIR:
                self.volume.mkdir(name)
            elif kind is CommandKind.FSINIT:
                self.volume.init(cmd.get("VOLUME") or "0:")
            elif kind in (CommandKind.FSDOWNLOAD, CommandKind.FSAPPEND):
                size = cmd.get_int("SIZE")
                if size is None:
                    raise VolumeError(pjl.FileError.INVALID_NUMBER_OF_BYTES, "no SIZE")
                self._download = self.volume.begin_download(
                    name, size, append=kind is CommandKind.FSAPPEND
                )
                self._download_command, self._download_name = kind.value, name
        except VolumeError as exc:
            return pjl.format_fileerror(exc.code, kind.value, name or None)
        return b""

    def file_data(self, data: bytes | memoryview) -> None:
        if self._download is None:
            return  # the download was refused: its bytes are read and dropped
        try:
            self._download.write(data)
        except VolumeError as exc:
            self._download.abort()
            self._download = None
            self._download_error = exc

    def file_end(self, truncated: bool) -> bytes:
        writer, self._download = self._download, None
        error, self._download_error = self._download_error, None
        if writer is not None:
            if truncated:
                writer.abort()  # PJLTRM 9: a short download leaves the old file alone
                return b""
            try:
                writer.commit()
            except VolumeError as exc:
                error = exc
        if error is None:
            return b""
        return pjl.format_fileerror(error.code, self._download_command, self._download_name)

    def close(self) -> None:
        if self._download is not None:
            self._download.abort()
            self._download = None


def _is_number(value: str) -> bool:
    # str.isdigit() alone admits superscripts and other digits int() refuses.
    return value.isascii() and value.isdigit() and len(value) <= 9


def _enumerated(head: str, values: Any) -> list[str]:
    items = list(values)
    return [f"{head} [{len(items)} ENUMERATED]", *(f"\t{v}" for v in items)]
