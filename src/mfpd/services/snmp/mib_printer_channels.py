"""Printer MIB (RFC 3805) job input: the channels jobs arrive on and the interpreters that read
them. Channels are mib_channels' list (one per enabled print service); the interpreters are the
formats documents/sniff.py recognises and IPP's document-format-supported lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mfpd.device.machine import Device
from mfpd.device.spool import INCOMING, Spool
from mfpd.services.snmp.mib import Oid, Value
from mfpd.services.snmp.mib_channels import Channel, ChannelType
from mfpd.services.snmp.mib_printer_media import (
    AVAILABLE_ACTIVE,
    AVAILABLE_IDLE,
    HR_DEVICE,
    PRINTMIB,
)
from mfpd.services.snmp.mib_system import IF_INDEX
from mfpd.services.snmp.mib_values import row, text

CHANNEL_ENTRY = (*PRINTMIB, 14, 1, 1)
INTERPRETER_ENTRY = (*PRINTMIB, 15, 1, 1)

PRINT_DATA_ACCEPTED = 3  # PrtChannelStateTC
NO_DATA_ACCEPTED = 4
UNAVAILABLE_BROKEN = 3  # PrtSubUnitStatusTC: the service could not open its port

PORTRAIT = 3  # PrtPrintOrientationTC
TWO_WAY_YES = 3  # PrtInterpreterTwoWayTC
TWO_WAY_NO = 4
# IANACharset (RFC 3808) MIBenum values.
CS_UNKNOWN = 2
CS_ASCII = 3
CS_UTF8 = 106


@dataclass(frozen=True)
class Interpreter:
    index: int
    family: int  # PrtInterpreterLangFamilyTC (IANA-PRINTER-MIB)
    level: str
    version: str
    description: str
    charset: int
    two_way: bool = False
    imaging: bool = True


# Indexes are fixed: channels point at them (CurrentJobCntlLangIndex, DefaultPageDescLangIndex).
INTERPRETERS = (
    # PJL answers INFO/USTATUS on the raw channel: the one two-way language.
    Interpreter(1, 5, "", "", "HP Printer Job Language (PJL)", CS_ASCII, True, False),
    Interpreter(2, 3, "5e", "", "HP PCL 5e", CS_ASCII),
    Interpreter(3, 47, "2.1", "", "HP PCL 6 (PCL XL)", CS_UNKNOWN),
    Interpreter(4, 6, "3", "", "Adobe PostScript 3", CS_ASCII),
    Interpreter(5, 54, "", "1.7", "Adobe PDF 1.7", CS_UNKNOWN),
    # langPWGRaster and langAppleRaster: the values the later IANA registrations gave the
    # two raster formats of IPP Everywhere (PWG 5102.4) and AirPrint (URF).
    Interpreter(6, 84, "", "", "PWG Raster (PWG 5102.4)", CS_UNKNOWN),
    Interpreter(7, 85, "", "", "Apple Raster (URF)", CS_UNKNOWN),
    Interpreter(8, 61, "", "", "JPEG (JFIF)", CS_UNKNOWN),
    Interpreter(9, 40, "", "6.0", "TIFF 6.0", CS_UNKNOWN),
    Interpreter(10, 30, "", "", "Plain text", CS_UTF8),
)
PJL = 1
PCL = 2
PDF = 5


def channels(
    device: Device, spool: Spool | None, listed: list[Channel]
) -> Iterator[tuple[Oid, Value]]:
    receiving = {
        job.source for job in (spool.active() if spool else []) if INCOMING in job.state_reasons
    }
    for channel in listed:
        ipp = channel.type is ChannelType.IPP
        if not channel.listening:
            status = UNAVAILABLE_BROKEN
        else:
            status = AVAILABLE_ACTIVE if channel.source in receiving else AVAILABLE_IDLE
        accepting = device.accepting and channel.listening
        version = {ChannelType.IPP: "2.1", ChannelType.LPD_SERVER: "RFC 1179"}.get(channel.type, "")
        yield from row(
            CHANNEL_ENTRY,
            (HR_DEVICE, channel.index),
            {
                2: Value.integer(int(channel.type)),
                3: text(version, 63),
                # Raw and LPD jobs may start with PJL; IPP jobs carry their controls in IPP.
                4: Value.integer(0 if ipp else PJL),
                5: Value.integer(PDF if ipp else PCL),
                6: Value.integer(PRINT_DATA_ACCEPTED if accepting else NO_DATA_ACCEPTED),
                7: Value.integer(IF_INDEX),
                8: Value.integer(status),
                9: text(channel.information),
            },
        )


def interpreters(device: Device, dpi: int) -> Iterator[tuple[Oid, Value]]:
    version = device.identity.firmware
    for interp in INTERPRETERS:
        # A job control language addresses no marks: "other" (-1).
        addressability = dpi if interp.imaging else -1
        yield from row(
            INTERPRETER_ENTRY,
            (HR_DEVICE, interp.index),
            {
                2: Value.integer(interp.family),
                3: text(interp.level, 31),
                4: text(interp.version, 31),
                5: text(interp.description),
                6: text(version, 31),
                7: Value.integer(PORTRAIT),
                8: Value.integer(addressability),
                9: Value.integer(addressability),
                10: Value.integer(interp.charset),
                11: Value.integer(interp.charset),
                12: Value.integer(TWO_WAY_YES if interp.two_way else TWO_WAY_NO),
            },
        )
