"""Who the device is: the values every protocol announces (IPP, SNMP, PJL, banners)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

UUID_FILE = "device-uuid"

# What an administrator may change at run time (IPP Set-Printer-Attributes, SNMP sets, the
# web UI); the rest is the device's make, model and serial number.
EDITABLE = (
    "hostname",
    "location",
    "contact",
    "asset_number",
    "info",
    "organization",
    "organizational_unit",
    "geo_location",
    "printer_name",
    "current_operator",
    "service_person",
)


@dataclass(frozen=True)
class Identity:
    make: str
    model: str
    serial_number: str
    uuid: str
    hostname: str
    location: str
    contact: str
    firmware: str
    asset_number: str = ""
    info: str = ""
    organization: str = ""
    organizational_unit: str = ""
    geo_location: str = ""
    # RFC 3805 prtGeneralPrinterName (empty: the host name stands in), prtGeneralCurrentOperator
    # and prtGeneralServicePerson: who runs and who services the machine.
    printer_name: str = ""
    current_operator: str = ""
    service_person: str = ""

    @property
    def name(self) -> str:
        """The printer's name for every protocol (SNMP prtGeneralPrinterName and
        ppmPrinterName): the administrator's, else the host name."""
        return self.printer_name or self.hostname

    @property
    def make_and_model(self) -> str:
        return f"{self.make} {self.model}"

    @property
    def description(self) -> str:
        """What IPP printer-info shows: set by the administrator, or make, model and host."""
        return self.info or f"{self.make_and_model} ({self.hostname})"

    @property
    def device_id(self) -> str:
        """IEEE 1284 device ID, as read by CUPS from IPP, SNMP and USB alike."""
        return (
            f"MFG:{self.make};MDL:{self.model};"
            "CMD:PJL,PCL,PCLXL,POSTSCRIPT,PDF,URF,PWGRaster;CLS:PRINTER;"
            f"SN:{self.serial_number};"
        )


def installation_uuid(state_dir: Path) -> str:
    """The device's UUID when the configuration sets none: made at first start (random,
    RFC 9562 version 4) and kept in the state dir, so a restart is the same device."""
    path = state_dir / UUID_FILE
    try:
        return str(uuid.UUID(path.read_text().strip()))
    except (OSError, ValueError):
        pass
    made = str(uuid.uuid4())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(made + "\n")
    tmp.replace(path)
    return made


def stand_in_uuid(serial_number: str) -> str:
    """A UUID for a device built without a state dir (unit tests, `mfpd ports`): derived from
    the serial number, so it is stable."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"mfpd:{serial_number}"))
