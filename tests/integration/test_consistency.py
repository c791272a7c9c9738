"""One device, four protocols: after each operator action the SNMP Host Resources and Printer
MIB objects (read with net-snmp's tools), PJL INFO STATUS over raw 9100 and IPP's
printer-state and printer-state-reasons (read with ipptool) say the same thing
(../shared/SNMP.md, status mapping; RFC 2790, RFC 3805, RFC 8011)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FAST_CONFIG, Mfpd, need
from tests.documents import make_pdf
from tests.integration.test_raw import pjl_query, send_raw

HR_DEVICE_STATUS = ".1.3.6.1.2.1.25.3.2.1.5.1"
HR_PRINTER_STATUS = ".1.3.6.1.2.1.25.3.5.1.1.1"
HR_ERROR_STATE = ".1.3.6.1.2.1.25.3.5.1.2.1"
ALERT_CODES = ".1.3.6.1.2.1.43.18.1.1.7"
ALERT_SEVERITIES = ".1.3.6.1.2.1.43.18.1.1.2"
DISPLAY_TEXT = ".1.3.6.1.2.1.43.16.5.1.2.1.1"

IPP_STATE_TEST = """{
 OPERATION Get-Printer-Attributes
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR language attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR keyword requested-attributes printer-state,printer-state-reasons
 STATUS successful-ok
 DISPLAY printer-state
 DISPLAY printer-state-reasons
}
"""


@dataclass
class Seen:
    device_status: int
    printer_status: int
    error_bits: bytes
    alert_codes: list[int]
    alert_severities: list[int]
    display: str
    pjl_code: int
    pjl_online: bool
    ipp_state: str
    ipp_reasons: set[str]


def _snmp(mfpd: Mfpd, tool: str, *oids: str) -> str:
    result = subprocess.run(
        [tool, "-v2c", "-c", "public", "-m", "", "-On", "-Ox", "-t", "3", "-r", "1",
         f"127.0.0.1:{mfpd.port('snmp')}", *oids],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def _integers(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"INTEGER: (-?\d+)", text)]


def look(mfpd: Mfpd, ipp_test: Path) -> Seen:
    got = _snmp(mfpd, "snmpget", HR_DEVICE_STATUS, HR_PRINTER_STATUS, HR_ERROR_STATE,
                DISPLAY_TEXT)  # fmt: skip
    device_status, printer_status = _integers(got)[:2]
    error_hex = re.search(rf"{re.escape(HR_ERROR_STATE)} = Hex-STRING: ([0-9A-F ]+)", got)
    assert error_hex is not None, got
    display = re.search(rf"{re.escape(DISPLAY_TEXT)} = Hex-STRING: ([0-9A-F \n]+)", got)
    assert display is not None, got
    codes = _integers(_snmp(mfpd, "snmpwalk", ALERT_CODES))
    severities = _integers(_snmp(mfpd, "snmpwalk", ALERT_SEVERITIES))
    pjl = pjl_query(mfpd.port("raw"), "INFO STATUS").decode("latin-1")
    code = re.search(r"CODE=(\d+)", pjl)
    assert code is not None, pjl
    ipp = subprocess.run(
        ["ipptool", "-t", f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print", str(ipp_test)],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    state = re.search(r"printer-state \(enum\) = (\S+)", ipp)
    reasons = re.search(r"printer-state-reasons \(1setOf keyword\) = (\S+)", ipp) or re.search(
        r"printer-state-reasons \(keyword\) = (\S+)", ipp
    )
    assert state is not None and reasons is not None, ipp
    return Seen(
        device_status, printer_status, bytes.fromhex(error_hex.group(1)), codes, severities,
        bytes.fromhex(display.group(1).replace("\n", " ")).decode(), int(code.group(1)),
        "ONLINE=TRUE" in pjl, state.group(1), set(reasons.group(1).split(",")),
    )  # fmt: skip


@pytest.fixture
def ipp_test(tmp_path: Path) -> Path:
    need("ipptool", "snmpget", "snmpwalk")
    test = tmp_path / "state.test"
    test.write_text(IPP_STATE_TEST)
    return test


# (operator action, hrDeviceStatus, hrPrinterStatus, hrPrinterDetectedErrorState,
#  prtAlertCode(s), PJL code, IPP printer-state, an IPP reason)
STEPS = [
    ((), 2, 3, b"\x00\x00", [], 10001, "idle", "none"),
    (("fault", "jam"), 5, 1, b"\x04\x00", [8], 40022, "stopped", "media-jam-error"),
    (("fault", "jam", "--clear"), 2, 3, b"\x00\x00", [], 10001, "idle", "none"),
    (("fault", "door-open"), 5, 1, b"\x08\x00", [501], 40021, "stopped", "door-open-error"),
    (("fault", "door-open", "--clear"), 2, 3, b"\x00\x00", [], 10001, "idle", "none"),
    (("fault", "toner-low"), 3, 3, b"\x20\x00", [1104], 10006, "idle", "toner-low-warning"),
    (("fault", "toner-empty"), 5, 1, b"\x10\x00", [1101], 40038, "stopped", "toner-empty-error"),
    (("refill", "all"), 2, 3, b"\x00\x00", [], 10001, "idle", "none"),
    (("fault", "offline"), 5, 1, b"\x02\x00", [22], 40079, "stopped", "offline-error"),
    (("fault", "offline", "--clear"), 2, 3, b"\x00\x00", [], 10001, "idle", "none"),
    # The scanner's conditions stop scanning, not printing: a warning everywhere, no
    # hrPrinterDetectedErrorState bit (those are the print path's), the printer idle.
    (("fault", "feeder-jam"), 3, 3, b"\x00\x00", [8], 10001, "idle", "document-feeder-jam-warning"),
    (
        ("fault", "platen-cover-open"),
        3,
        3,
        b"\x00\x00",
        [8, 3],
        10001,
        "idle",
        "platen-cover-open-warning",
    ),
    (
        ("fault", "feeder-jam", "--clear"),
        3,
        3,
        b"\x00\x00",
        [3],
        10001,
        "idle",
        "platen-cover-open-warning",
    ),
    (("fault", "platen-cover-open", "--clear"), 2, 3, b"\x00\x00", [], 10001, "idle", "none"),
]


def test_snmp_pjl_and_ipp_agree_through_every_state(mfpd: Mfpd, ipp_test: Path) -> None:
    for action, device_status, printer_status, bits, codes, pjl, state, reason in STEPS:
        if action:
            mfpd.cli(*action)
        seen = look(mfpd, ipp_test)
        where = f"after {' '.join(action) or 'start'}: {seen}"
        assert (seen.device_status, seen.printer_status) == (device_status, printer_status), where
        assert seen.error_bits == bits, where
        assert seen.alert_codes == codes, where
        assert seen.pjl_code == pjl, where
        assert (seen.ipp_state, reason in seen.ipp_reasons) == (state, True), where
        # Critical alerts (severity 3) are exactly the ones that stop the printer.
        assert (3 in seen.alert_severities) == (state == "stopped"), where
        assert seen.pjl_online == (action != ("fault", "offline")), where
        if action[:2] == ("fault", "feeder-jam") and "--clear" not in action:
            # The panel (prtConsoleDisplayBufferText) asks for the feeder, printer idle.
            assert seen.display == "DOCUMENT FEEDER JAM", where


def test_an_empty_tray_a_job_waits_on_is_critical_everywhere(
    mfpd: Mfpd, ipp_test: Path, tmp_path: Path
) -> None:
    mfpd.cli("fault", "tray-empty")  # every tray: a warning while nothing needs paper
    idle = look(mfpd, ipp_test)
    assert idle.ipp_state == "idle" and "media-empty-warning" in idle.ipp_reasons
    assert idle.device_status in (2, 3) and 3 not in idle.alert_severities
    assert set(idle.alert_codes) == {808}
    pdf = make_pdf(tmp_path / "one.pdf", pages=1)
    send_raw(mfpd.port("raw"), pdf.read_bytes())
    mfpd.wait_for(lambda jobs: len(jobs) == 1 and jobs[0]["state"] == "stopped")
    waiting = look(mfpd, ipp_test)
    assert waiting.ipp_state == "stopped" and "media-empty-error" in waiting.ipp_reasons
    assert (waiting.device_status, waiting.printer_status) == (5, 1)
    assert waiting.error_bits[0] & 0x40  # noPaper
    assert 3 in waiting.alert_severities
    assert str(waiting.pjl_code).startswith("41")  # PJL 41xyy: load tray, in the foreground
    mfpd.cli("refill", "all")
    assert mfpd.wait_jobs_done(1)[0]["state"] == "completed"
    assert look(mfpd, ipp_test).device_status == 2


PRINTER_NAME = ".1.3.6.1.2.1.43.5.1.1.16.1"
CURRENT_OPERATOR = ".1.3.6.1.2.1.43.5.1.1.4.1"
SERVICE_PERSON = ".1.3.6.1.2.1.43.5.1.1.5.1"
SYS_LOCATION = ".1.3.6.1.2.1.1.6.0"
SYS_NAME = ".1.3.6.1.2.1.1.5.0"
LIFE_COUNT = ".1.3.6.1.2.1.43.10.2.1.4.1.1"  # prtMarkerLifeCount: what PaperCut and CUPS count

IPP_NAME_TEST = IPP_STATE_TEST.replace(
    "printer-state,printer-state-reasons", "printer-name,printer-location"
).replace("DISPLAY printer-state\n DISPLAY printer-state-reasons", "DISPLAY printer-name\n"
          " DISPLAY printer-location")  # fmt: skip


def test_snmp_sets_show_in_ipp_and_survive_a_crash(
    mfpd_factory: Callable[..., Mfpd], tmp_path: Path
) -> None:
    need("snmpset", "ipptool")
    mfpd = mfpd_factory(FAST_CONFIG + '[services.snmp]\nwrite_community = "private"\n')
    sets = [
        (PRINTER_NAME, "Finance MFP"), (SYS_LOCATION, "Building 2, room 210"),
        (CURRENT_OPERATOR, "Reception"), (SERVICE_PERSON, "Acme Service, +1 555 0100"),
        (SYS_NAME, "XRX-FINANCE"),
    ]  # fmt: skip
    command = ["snmpset", "-v2c", "-c", "private", "-m", "", "-On", "-t", "3", "-r", "1",
               f"127.0.0.1:{mfpd.port('snmp')}"]  # fmt: skip
    for oid, value in sets:
        command += [oid, "s", value]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    pdf = make_pdf(tmp_path / "two.pdf", pages=2)
    send_raw(mfpd.port("raw"), pdf.read_bytes())
    mfpd.wait_jobs_done(1)
    mfpd.kill9()  # an SNMP SET is on disk before its answer, as IPP's are
    mfpd.start()
    got = _snmp(mfpd, "snmpget", *(oid for oid, _ in sets), LIFE_COUNT)
    for oid, value in sets:
        found = re.search(rf"{re.escape(oid)} = Hex-STRING: ([0-9A-F \n]+)", got)
        assert found is not None and bytes.fromhex(found.group(1)).decode() == value, got
    life = re.search(rf"{re.escape(LIFE_COUNT)} = Counter32: (\d+)", got)
    assert life is not None and int(life.group(1)) == mfpd.status()["counters"]["impressions"] == 2
    test = tmp_path / "names.test"
    test.write_text(IPP_NAME_TEST)
    ipp = subprocess.run(
        ["ipptool", "-t", f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print", str(test)],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "printer-name (nameWithoutLanguage) = Finance MFP" in ipp, ipp
    assert "printer-location (textWithoutLanguage) = Building 2, room 210" in ipp, ipp
    assert mfpd.status()["identity"]["hostname"] == "XRX-FINANCE"
