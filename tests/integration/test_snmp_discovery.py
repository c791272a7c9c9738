"""CUPS finds the device and reads its supplies over SNMP, with CUPS's own backends (Debian
package `cups`, ../shared/CLIENTS.md sections 1 and 2).

Both talk to UDP port 161 and nothing else (neither snmp.conf nor the environment moves it),
so the daemon runs with port offset 0 inside a network namespace this module creates and
deletes (root only), and so do the backends:

- `snmp`, the discovery backend: SNMPv1 GETs of hrDeviceType.1, hrDeviceDescr.1,
  ppmPrinterIEEE1284DeviceId.1, ppmPortServiceNameOrURI.1.1 and sysLocation.0 give its
  `network URI "make and model" "info" "device ID" "location"` line.
- `socket` with `PPD` set: before, during and after a job on raw 9100 it walks
  prtMarkerSuppliesTable and prtMarkerColorantTable (backend/snmp-supplies.c) and reports
  `ATTR: marker-...` lines, which must say what `mfpd status` says about the supplies, and it
  counts the job's pages from prtMarkerLifeCount.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAST_CONFIG, NamespacedMfpd, need, network_namespace

pytestmark = pytest.mark.integration

SNMP_BACKEND = "/usr/lib/cups/backend/snmp"
SOCKET_BACKEND = "/usr/lib/cups/backend/socket"
LOCATION = "Room 101, 1st floor"
MAKE_AND_MODEL = "Xerox WorkCentre 7755"

# Distinct levels, so that a supply reported in the wrong row shows: 42, 75, 4 (low) and
# 100 % of toner, 80 % drum, 55 % fuser, and a waste container with 80 % of its room left.
SUPPLIES = [
    ("Black Toner", "toner", "black", 26000, 10920),
    ("Cyan Toner", "toner", "cyan", 21000, 15750),
    ("Magenta Toner", "toner", "magenta", 21000, 840),
    ("Yellow Toner", "toner", "yellow", 21000, 21000),
    ("Drum Cartridge", "opc", "none", 125000, 100000),
    ("Fuser", "fuser", "none", 100000, 55000),
    ("Waste Toner Container", "waste", "none", 50000, 40000),
]
CONFIG = (
    FAST_CONFIG
    + f'\n[identity]\nlocation = "{LOCATION}"\n'
    + "".join(
        f'\n[[supplies]]\nname = "{name}"\nkind = "{kind}"\ncolor = "{color}"\n'
        f"capacity = {capacity}\nlevel = {level}\n"
        for name, kind, color, capacity, level in SUPPLIES
    )
)

# What backend/snmp-supplies.c reports for prtMarkerSuppliesType and prtMarkerColorantValue.
CUPS_TYPES = {"toner": "toner", "opc": "opc", "fuser": "fuser", "waste": "waste-toner"}
CUPS_COLORS = {"black": "#000000", "cyan": "#00FFFF", "magenta": "#FF00FF", "yellow": "#FFFF00"}

# The smallest PPD that ppdOpenFile() takes: the socket backend only needs one to exist
# (and not to say *cupsSNMPSupplies: False) before it polls supplies.
PPD = """*PPD-Adobe: "4.3"
*FormatVersion: "4.3"
*FileVersion: "1.0"
*LanguageVersion: English
*LanguageEncoding: ISOLatin1
*PCFileName: "MFPDTEST.PPD"
*Manufacturer: "Xerox"
*Product: "(WorkCentre 7755)"
*ModelName: "Xerox WorkCentre 7755"
*ShortNickName: "Xerox WorkCentre 7755"
*NickName: "Xerox WorkCentre 7755 (mfpd test)"
*PSVersion: "(3010.000) 0"
*ColorDevice: True
*DefaultColorSpace: RGB
*FileSystem: False
*LanguageLevel: "3"
*OpenUI *PageSize/Media Size: PickOne
*DefaultPageSize: A4
*PageSize A4/A4: "<</PageSize[595 842]>>setpagedevice"
*CloseUI: *PageSize
*DefaultImageableArea: A4
*ImageableArea A4/A4: "12 12 583 830"
*DefaultPaperDimension: A4
*PaperDimension A4/A4: "595 842"
"""

WAIT = 30.0  # any single wait: the daemon's start, a backend run


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    need(SNMP_BACKEND, SOCKET_BACKEND)
    with network_namespace("mfpd-snmp", WAIT) as name:
        yield name


@pytest.fixture(scope="module")
def device(netns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamespacedMfpd]:
    daemon = NamespacedMfpd(tmp_path_factory.mktemp("snmp-discovery") / "state", CONFIG, netns)
    try:
        daemon.start()
        assert daemon.ports.get("snmp") == 161, daemon.ports
        assert daemon.ports.get("raw") == 9100, daemon.ports
        yield daemon
    finally:
        daemon.finish(WAIT)


def in_netns(
    device: NamespacedMfpd, command: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """A backend run inside the namespace, bounded: both backends retry for ever on some
    failures (CLIENTS.md)."""
    return subprocess.run(
        ["ip", "netns", "exec", device.namespace, "timeout", "-k", "5", str(WAIT), *command],
        capture_output=True, text=True, timeout=WAIT + 15, env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def device_id_fields(device_id: str) -> dict[str, str]:
    """IEEE 1284 device ID `KEY:value;` pairs."""
    fields = {}
    for item in filter(None, device_id.split(";")):
        key, _, value = item.partition(":")
        fields[key.strip()] = value
    return fields


def discovered(output: str) -> list[list[str]]:
    """The backend's device lines: class, URI, make and model, info, device ID, location."""
    return [shlex.split(line) for line in output.splitlines() if line.strip()]


def assert_lists_the_device(
    device: NamespacedMfpd, result: subprocess.CompletedProcess[str]
) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    lines = discovered(result.stdout)
    assert len(lines) == 1, result.stdout + result.stderr
    device_class, uri, make_and_model, info, device_id, location = lines[0]
    assert device_class == "network"
    # ppmPortServiceNameOrURI.1.1, the first port: IPP on the port the daemon listens on.
    assert uri == f"ipp://127.0.0.1:{device.ports['ipp']}/ipp/print", uri
    assert make_and_model == MAKE_AND_MODEL
    assert info == MAKE_AND_MODEL
    fields = device_id_fields(device_id)
    assert fields["MFG"] == "Xerox" and fields["MDL"] == "WorkCentre 7755", device_id
    assert {"PJL", "PCL", "POSTSCRIPT", "PDF"} <= set(fields["CMD"].split(",")), device_id
    assert fields.get("CLS") == "PRINTER", device_id
    assert location == LOCATION


def test_discovery_by_snmp_conf_address(device: NamespacedMfpd, tmp_path: Path) -> None:
    """How cups-browsed/lpinfo run it: targets from CUPS_SERVERROOT/snmp.conf."""
    (tmp_path / "snmp.conf").write_text(
        "Address 127.0.0.1\nCommunity public\nMaxRunTime 10\nHostNameLookups off\n"
    )
    result = in_netns(device, [SNMP_BACKEND], {"CUPS_SERVERROOT": str(tmp_path)})
    (tmp_path / "snmp-backend.out").write_text(result.stdout + result.stderr)
    assert_lists_the_device(device, result)


def test_discovery_of_one_host(device: NamespacedMfpd, tmp_path: Path) -> None:
    """`snmp HOST`: argv[1] overrides snmp.conf's Address."""
    (tmp_path / "snmp.conf").write_text("Address 192.0.2.1\nCommunity public\nMaxRunTime 10\n")
    result = in_netns(device, [SNMP_BACKEND, "127.0.0.1"], {"CUPS_SERVERROOT": str(tmp_path)})
    assert_lists_the_device(device, result)


def _attrs(stderr: str, name: str) -> list[str]:
    """The values of every `ATTR: name=value` line, in order."""
    return re.findall(rf"^ATTR: {re.escape(name)}=(.*)$", stderr, re.MULTILINE)


def _cups_level(supply: dict[str, Any]) -> int:
    """What snmp-supplies.c makes of prtMarkerSuppliesLevel in percent: the level, but for a
    receptacle (the waste container, prtMarkerSuppliesClass 4) how full it is, 100 - the
    room left that RFC 3805 has the agent report."""
    percent: int = supply["percent"]
    return 100 - percent if supply["kind"] == "waste" else percent


def test_socket_backend_reads_supplies_and_pages(device: NamespacedMfpd, tmp_path: Path) -> None:
    ppd = tmp_path / "mfpd.ppd"
    ppd.write_text(PPD)
    job = tmp_path / "job.txt"
    job.write_text("Page one\fPage two\n")  # two pages of plain text
    cache = tmp_path / "cache"
    cache.mkdir()
    before = device.status()
    result = in_netns(
        device,
        [SOCKET_BACKEND, "1", "alice", "Supplies", "1", "", str(job)],
        {
            "DEVICE_URI": "socket://127.0.0.1:9100/?contimeout=5",
            "PPD": str(ppd),
            "CUPS_CACHEDIR": str(cache),
            "TMPDIR": str(tmp_path),
        },
    )
    err = result.stderr
    (tmp_path / "socket-backend.stderr").write_text(err)
    assert result.returncode == 0, err
    assert "INFO: Print file sent." in err, err
    supplies = device.status()["supplies"]
    assert [s["name"] for s in supplies] == [s[0] for s in SUPPLIES]

    # The walk of prtMarkerSuppliesTable: one marker per supply, in prtMarkerSuppliesIndex
    # order, named by prtMarkerSuppliesDescription.
    names = _attrs(err, "marker-names")
    assert names, err
    expected_names = ",".join(f"'\"{s['name']}\"'" for s in supplies)
    assert set(names) == {expected_names}, names
    colors = ",".join(CUPS_COLORS.get(s["color"], "none") for s in supplies)
    assert set(_attrs(err, "marker-colors")) == {colors}
    types = ",".join(CUPS_TYPES[s["kind"]] for s in supplies)
    assert set(_attrs(err, "marker-types")) == {types}
    # prtMarkerSuppliesLevel, polled before and after the job; two pages move no percentage.
    levels = _attrs(err, "marker-levels")
    assert len(levels) >= 2, err
    assert [int(n) for n in levels[0].split(",")] == [_cups_level(s) for s in before["supplies"]]
    assert [int(n) for n in levels[-1].split(",")] == [_cups_level(s) for s in supplies]
    assert levels[-1] == "42,75,4,100,80,55,20", levels
    # Magenta at 4 %: low for the device (10 %) and for CUPS (5 %) alike.
    assert "toner-low-warning" in before["state_reasons"], before["state_reasons"]
    assert "STATE: +toner-low-report" in err, err
    # hrPrinterDetectedErrorState says lowToner too: bit 2, 0x20 in octet 1, which CUPS
    # reads as the 16-bit value 0x2000.
    assert re.search(r"^DEBUG: new_state=2000,", err, re.MULTILINE), err

    jobs = device.wait_jobs_done(1, timeout=WAIT)
    assert jobs[-1]["state"] == "completed" and jobs[-1]["pages"] == 2, jobs
    # The page count from prtMarkerLifeCount, polled before and after the job.
    pages = re.findall(r"^PAGE: total (\d+)$", err, re.MULTILINE)
    assert pages == ["2"], err
