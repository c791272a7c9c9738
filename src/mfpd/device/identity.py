"""Who the device is: the values every protocol announces (IPP, SNMP, PJL, banners)."""

from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def make_and_model(self) -> str:
        return f"{self.make} {self.model}"

    @property
    def device_id(self) -> str:
        """IEEE 1284 device ID, as read by CUPS from IPP, SNMP and USB alike."""
        return (
            f"MFG:{self.make};MDL:{self.model};"
            "CMD:PJL,PCL,PCLXL,POSTSCRIPT,PDF,URF,PWGRaster;CLS:PRINTER;"
            f"SN:{self.serial_number};"
        )
