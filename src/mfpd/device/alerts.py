"""Device conditions and the alert table.

A *condition* (jam, door open, tray empty, toner low, ...) is the one fact every protocol
reports in its own vocabulary. `CONDITIONS` holds, for each kind, the RFC 3805 alert code,
severity and group, the IPP printer-state-reasons keyword (RFC 8011 5.4.12, PWG 5100.9),
the hrPrinterDetectedErrorState bit (RFC 2790) and the PJL status code (HP PJL Technical
Reference, appendix D). Keeping them in one table is what makes IPP, SNMP and PJL agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AlertSeverity(enum.IntEnum):
    """PrtAlertSeverityLevelTC, RFC 3805."""

    OTHER = 1
    CRITICAL = 3
    WARNING = 4
    WARNING_BINARY_CHANGE = 5


class AlertGroup(enum.IntEnum):
    """PrtAlertGroupTC, RFC 3805 (the table an alert's subunit lives in)."""

    GENERAL_PRINTER = 5
    COVER = 6
    INPUT = 8
    OUTPUT = 9
    MARKER = 10
    MARKER_SUPPLIES = 11


class AlertCode(enum.IntEnum):
    """PrtAlertCodeTC, RFC 3805."""

    OTHER = 1
    COVER_OPEN = 3
    JAM = 8
    SUBUNIT_OFFLINE = 22
    DOOR_OPEN = 501
    INPUT_MEDIA_SUPPLY_LOW = 807
    INPUT_MEDIA_SUPPLY_EMPTY = 808
    OUTPUT_MEDIA_TRAY_ALMOST_FULL = 902
    OUTPUT_MEDIA_TRAY_FULL = 903
    MARKER_TONER_EMPTY = 1101
    MARKER_TONER_ALMOST_EMPTY = 1104
    MARKER_WASTE_TONER_RECEPTACLE_ALMOST_FULL = 1107
    MARKER_WASTE_TONER_RECEPTACLE_FULL = 1109
    MARKER_OPC_LIFE_ALMOST_OVER = 1111
    MARKER_OPC_LIFE_OVER = 1112


class HrPrinterError(enum.IntEnum):
    """hrPrinterDetectedErrorState bits, RFC 2790; bit 0 is the top bit of the first octet."""

    LOW_PAPER = 0
    NO_PAPER = 1
    LOW_TONER = 2
    NO_TONER = 3
    DOOR_OPEN = 4
    JAMMED = 5
    OFFLINE = 6
    SERVICE_REQUESTED = 7
    INPUT_TRAY_MISSING = 8
    OUTPUT_TRAY_MISSING = 9
    MARKER_SUPPLY_MISSING = 10
    OUTPUT_NEAR_FULL = 11
    OUTPUT_FULL = 12
    INPUT_TRAY_EMPTY = 13
    OVERDUE_PREVENT_MAINT = 14


# What `mfpd fault`, the web UI's operator actions and /api/v1/actions can raise (applied by
# device.operator); here, with no imports, so that the CLI's parser starts fast.
FAULTS = (
    "jam", "door-open", "tray-empty", "toner-low", "toner-empty", "offline",
    "feeder-jam", "feeder-empty", "platen-cover-open",
)  # fmt: skip


class ConditionKind(enum.StrEnum):
    JAM = "jam"
    DOOR_OPEN = "door-open"
    OFFLINE = "offline"
    TRAY_EMPTY = "tray-empty"
    TRAY_LOW = "tray-low"
    TONER_EMPTY = "toner-empty"
    TONER_LOW = "toner-low"
    DRUM_OVER = "drum-over"
    DRUM_LOW = "drum-low"
    WASTE_FULL = "waste-full"
    WASTE_ALMOST_FULL = "waste-almost-full"
    BIN_FULL = "bin-full"
    AUDIT_LOG_ALMOST_FULL = "audit-log-almost-full"
    CERTIFICATE_EXPIRING = "certificate-expiring"
    FEEDER_JAM = "feeder-jam"
    PLATEN_COVER_OPEN = "platen-cover-open"


@dataclass(frozen=True)
class ConditionInfo:
    code: AlertCode
    severity: AlertSeverity
    group: AlertGroup
    # IPP printer-state-reasons keyword without its severity suffix.
    ipp_reason: str
    # "error" stops the printer, "warning" and "report" do not (RFC 8011 5.4.12 suffixes).
    ipp_severity: str
    hr_error: HrPrinterError | None
    # PJL status code (HP PJL Technical Reference, appendix D). 10001 (ready) where PJL has
    # no code of its own: the condition then shows only in DISPLAY. Tray codes are the 11xyy
    # (background) base, completed with tray and media by `pjl_paper_code`.
    pjl_code: int
    # The text the front panel shows; {name} is the subunit's name.
    display: str


CONDITIONS: dict[ConditionKind, ConditionInfo] = {
    ConditionKind.JAM: ConditionInfo(
        AlertCode.JAM, AlertSeverity.CRITICAL, AlertGroup.GENERAL_PRINTER,
        "media-jam", "error", HrPrinterError.JAMMED, 40022, "PAPER JAM",
    ),
    ConditionKind.DOOR_OPEN: ConditionInfo(
        AlertCode.DOOR_OPEN, AlertSeverity.CRITICAL, AlertGroup.COVER,
        "door-open", "error", HrPrinterError.DOOR_OPEN, 40021, "CLOSE FRONT DOOR",
    ),
    ConditionKind.OFFLINE: ConditionInfo(
        AlertCode.SUBUNIT_OFFLINE, AlertSeverity.CRITICAL, AlertGroup.GENERAL_PRINTER,
        "offline", "error", HrPrinterError.OFFLINE, 40079, "OFFLINE",
    ),
    ConditionKind.TRAY_EMPTY: ConditionInfo(
        AlertCode.INPUT_MEDIA_SUPPLY_EMPTY, AlertSeverity.WARNING, AlertGroup.INPUT,
        "media-empty", "warning", HrPrinterError.INPUT_TRAY_EMPTY, 11000, "LOAD {name}",
    ),
    ConditionKind.TRAY_LOW: ConditionInfo(
        AlertCode.INPUT_MEDIA_SUPPLY_LOW, AlertSeverity.WARNING, AlertGroup.INPUT,
        "media-low", "report", HrPrinterError.LOW_PAPER, 10001, "{name} LOW",
    ),
    ConditionKind.TONER_EMPTY: ConditionInfo(
        AlertCode.MARKER_TONER_EMPTY, AlertSeverity.CRITICAL, AlertGroup.MARKER_SUPPLIES,
        "toner-empty", "error", HrPrinterError.NO_TONER, 40038, "REPLACE {name}",
    ),
    ConditionKind.TONER_LOW: ConditionInfo(
        AlertCode.MARKER_TONER_ALMOST_EMPTY, AlertSeverity.WARNING, AlertGroup.MARKER_SUPPLIES,
        "toner-low", "warning", HrPrinterError.LOW_TONER, 10006, "{name} LOW",
    ),
    ConditionKind.DRUM_OVER: ConditionInfo(
        AlertCode.MARKER_OPC_LIFE_OVER, AlertSeverity.CRITICAL, AlertGroup.MARKER_SUPPLIES,
        "marker-supply-empty", "error", HrPrinterError.SERVICE_REQUESTED, 40010,
        "REPLACE {name}",
    ),
    ConditionKind.DRUM_LOW: ConditionInfo(
        AlertCode.MARKER_OPC_LIFE_ALMOST_OVER, AlertSeverity.WARNING,
        AlertGroup.MARKER_SUPPLIES, "marker-supply-low", "warning",
        HrPrinterError.OVERDUE_PREVENT_MAINT, 10001, "{name} NEAR END OF LIFE",
    ),
    ConditionKind.WASTE_FULL: ConditionInfo(
        AlertCode.MARKER_WASTE_TONER_RECEPTACLE_FULL, AlertSeverity.CRITICAL,
        AlertGroup.MARKER_SUPPLIES, "marker-waste-full", "error",
        HrPrinterError.SERVICE_REQUESTED, 40010, "REPLACE {name}",
    ),
    ConditionKind.WASTE_ALMOST_FULL: ConditionInfo(
        AlertCode.MARKER_WASTE_TONER_RECEPTACLE_ALMOST_FULL, AlertSeverity.WARNING,
        AlertGroup.MARKER_SUPPLIES, "marker-waste-almost-full", "warning", None, 10001,
        "{name} NEARLY FULL",
    ),
    ConditionKind.BIN_FULL: ConditionInfo(
        AlertCode.OUTPUT_MEDIA_TRAY_FULL, AlertSeverity.CRITICAL, AlertGroup.OUTPUT,
        "output-area-full", "error", HrPrinterError.OUTPUT_FULL, 40019, "EMPTY {name}",
    ),
    # The controller's own: 90 % of the audit log ring holds entries nobody has exported,
    # so the next ones overwrite unread history (security/audit_log.py). RFC 3805 and PWG
    # 5100.9 have no code or keyword for it: alert code other, and a keyword of our own
    # (RFC 8011 5.4.12 lets a printer add keywords).
    ConditionKind.AUDIT_LOG_ALMOST_FULL: ConditionInfo(
        AlertCode.OTHER, AlertSeverity.WARNING, AlertGroup.GENERAL_PRINTER,
        "audit-log-almost-full", "warning", None, 10001, "AUDIT LOG NEARLY FULL",
    ),
    # The device certificate expires within [tls] expiry_warning_days, or has: clients that
    # verify it (IPPS, HTTPS) will refuse the device. A keyword of our own, as above.
    ConditionKind.CERTIFICATE_EXPIRING: ConditionInfo(
        AlertCode.OTHER, AlertSeverity.WARNING, AlertGroup.GENERAL_PRINTER,
        "certificate-expiring", "warning", None, 10001, "CERTIFICATE EXPIRES SOON",
    ),
    # The scanner's (device/scanner.py). A jammed document feeder or a raised platen cover
    # (the feeder is the cover) stops scanning, not printing: IPP severity warning, so the
    # printer stays idle and printable, and no hrPrinterDetectedErrorState bit, which print
    # monitors read as the print path's. In prtAlertTable a warning: critical means the
    # printer has stopped (services/snmp/mib_status.py), which it has not. The keywords are
    # our own (RFC 8011 5.4.12), since PWG 5100.9 has none for a scanner.
    ConditionKind.FEEDER_JAM: ConditionInfo(
        AlertCode.JAM, AlertSeverity.WARNING, AlertGroup.GENERAL_PRINTER,
        "document-feeder-jam", "warning", None, 10001, "DOCUMENT FEEDER JAM",
    ),
    ConditionKind.PLATEN_COVER_OPEN: ConditionInfo(
        AlertCode.COVER_OPEN, AlertSeverity.WARNING, AlertGroup.COVER,
        "platen-cover-open", "warning", None, 10001, "CLOSE DOCUMENT FEEDER",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Alert:
    """One row of the alert table (prtAlertTable): a condition of one subunit."""

    index: int  # prtAlertIndex, increasing, never reused while the device runs
    kind: ConditionKind
    subunit: int  # prtAlertGroupIndex: tray, supply or bin index; 1 otherwise
    subunit_name: str
    time: float  # wall-clock seconds when raised

    @property
    def info(self) -> ConditionInfo:
        return CONDITIONS[self.kind]

    @property
    def description(self) -> str:
        return self.info.display.format(name=self.subunit_name.upper())


# The yy media numbers of PJL 11xyy/41xyy paper-mount codes (HP PJL Technical Reference, D).
_PJL_MEDIA = {
    "na_letter_8.5x11in": 2,
    "na_legal_8.5x14in": 3,
    "iso_a4_210x297mm": 4,
    "na_executive_7.25x10.5in": 5,
    "na_ledger_11x17in": 6,
    "iso_a3_297x420mm": 7,
    "iso_a5_148x210mm": 18,
    "iso_a6_105x148mm": 24,
}


def pjl_paper_code(tray: int, media: str, foreground: bool) -> int:
    """11xyy (another tray can feed, still online) or 41xyy (the job waits: load tray x)."""
    base = 41000 if foreground else 11000
    return base + (tray % 10) * 100 + _PJL_MEDIA.get(media, 0)
