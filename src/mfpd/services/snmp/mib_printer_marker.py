"""Printer MIB (RFC 3805) marking: the marker, its supplies, its colorants.

prtMarkerLifeCount is the page counter PaperCut and CUPS read (CUPS: prtMarkerLifeCount.1.1,
as a Counter32): device.counters.impressions, in impressions (prtMarkerCounterUnit 7).

Supplies are reported in percent(19) with MaxCapacity 100. CUPS's backend/snmp-supplies.c
handles that unit explicitly (it sets the maximum to 100 itself, whatever MaxCapacity says),
while any other unit only works when MaxCapacity is positive in the same unit; and the
percentage is exactly IPP's marker-levels and printer-supply "level=" (both Supply.percent),
so CUPS's marker-levels agree whether it asks by SNMP or by IPP. The waste container is a
receptacle (class 4): its level is the room left (RFC 3805 prtMarkerSuppliesLevel), as the
device counts it.
"""

from __future__ import annotations

from collections.abc import Iterator

from mfpd.device.alerts import AlertGroup
from mfpd.device.machine import Device, PrinterState
from mfpd.services.snmp.mib import Oid, Value
from mfpd.services.snmp.mib_printer_media import HR_DEVICE, PRINTMIB, subunit_status
from mfpd.services.snmp.mib_values import row, text

MARKER_ENTRY = (*PRINTMIB, 10, 2, 1)
SUPPLIES_ENTRY = (*PRINTMIB, 11, 1, 1)
COLORANT_ENTRY = (*PRINTMIB, 12, 1, 1)
MARKER_INDEX = 1

ELECTROPHOTOGRAPHIC_LASER = 4  # PrtMarkerMarkTechTC
IMPRESSIONS = 7  # PrtMarkerCounterUnitTC
TEN_THOUSANDTHS_OF_INCHES = 3  # PrtMarkerAddressabilityUnitTC
DPI = 1200  # addressable positions per inch (IPP printer-resolution-supported's best)
# 1/6 inch, the unprintable border IPP's media-*-margin (423 hundredths of mm) describes.
MARGIN = 1667

SUPPLY_THAT_IS_CONSUMED = 3  # PrtMarkerSuppliesClassTC
RECEPTACLE_THAT_IS_FILLED = 4
PERCENT = 19  # PrtMarkerSuppliesSupplyUnitTC
SUPPLY_TYPES = {  # PrtMarkerSuppliesTypeTC, by Supply.kind
    "toner": 3,
    "waste": 4,  # wasteToner
    "opc": 9,
    "developer": 10,
    "fuser": 15,
}
PROCESS = 3  # PrtMarkerColorantRoleTC
TONALITY = 256  # distinct levels per colorant (8 bits)


def colorants(device: Device) -> list[str]:
    """The toner colours, in supply order: the prtMarkerColorantTable rows."""
    found: list[str] = []
    for supply in device.supplies:
        if supply.kind == "toner" and supply.color != "none" and supply.color not in found:
            found.append(supply.color)
    return found


def marker(device: Device, power_on_impressions: int) -> Iterator[tuple[Oid, Value]]:
    impressions = device.counters.impressions
    status = subunit_status(
        device,
        (AlertGroup.MARKER, AlertGroup.MARKER_SUPPLIES),
        None,
        active=device.state is PrinterState.PROCESSING,
    )
    yield from row(
        MARKER_ENTRY,
        (HR_DEVICE, MARKER_INDEX),
        {
            2: Value.integer(ELECTROPHOTOGRAPHIC_LASER),
            3: Value.integer(IMPRESSIONS),
            4: Value.counter32(impressions),
            5: Value.counter32(impressions - power_on_impressions),
            6: Value.integer(len(colorants(device))),
            7: Value.integer(0),  # no spot colorants
            8: Value.integer(TEN_THOUSANDTHS_OF_INCHES),
            9: Value.integer(DPI),
            10: Value.integer(DPI),
            11: Value.integer(MARGIN),
            12: Value.integer(MARGIN),
            13: Value.integer(MARGIN),
            14: Value.integer(MARGIN),
            15: Value.integer(status),
        },
    )


def supplies(device: Device) -> Iterator[tuple[Oid, Value]]:
    colors = colorants(device)
    for supply in device.supplies:
        toner = supply.kind == "toner" and supply.color in colors
        colorant = colors.index(supply.color) + 1 if toner else 0
        receptacle = supply.kind == "waste"
        supply_class = RECEPTACLE_THAT_IS_FILLED if receptacle else SUPPLY_THAT_IS_CONSUMED
        yield from row(
            SUPPLIES_ENTRY,
            (HR_DEVICE, supply.index),
            {
                2: Value.integer(MARKER_INDEX),
                3: Value.integer(colorant),
                4: Value.integer(supply_class),
                5: Value.integer(SUPPLY_TYPES.get(supply.kind, 1)),
                6: text(supply.name),
                7: Value.integer(PERCENT),
                8: Value.integer(100),
                9: Value.integer(supply.percent),
            },
        )


def colorant_table(device: Device) -> Iterator[tuple[Oid, Value]]:
    for index, color in enumerate(colorants(device), 1):
        yield from row(
            COLORANT_ENTRY,
            (HR_DEVICE, index),
            {
                2: Value.integer(MARKER_INDEX),
                3: Value.integer(PROCESS),
                # CUPS maps this name to marker-colors (backend/snmp-supplies.c).
                4: text(color, 63),
                5: Value.integer(TONALITY),
            },
        )
