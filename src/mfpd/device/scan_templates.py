"""Walk-up scans from templates ([[scan.templates]]): what a user at the panel starts with one
button, as `mfpd scan TEMPLATE`, the web UI's Scan page and POST /api/v1/scans do."""

from __future__ import annotations

from mfpd.config import ScanTemplateConfig
from mfpd.device.scan_jobs import ScanJob, ScanJobs
from mfpd.device.scan_settings import ColorMode, InputSource, Intent, ScanSettings
from mfpd.device.scanner import ScannerError


def find_template(templates: list[ScanTemplateConfig], name: str) -> ScanTemplateConfig:
    for template in templates:
        if template.name.lower() == name.lower():
            return template
    have = ", ".join(t.name for t in templates) or "none configured"
    raise ScannerError(f"no scan template {name!r} (have: {have})")


def settings_of(template: ScanTemplateConfig) -> ScanSettings:
    """The template's settings, checked (ScanSettingsError names the bad one)."""
    return ScanSettings(
        source=InputSource(template.source),
        color_mode=ColorMode(template.color_mode),
        resolution=template.resolution,
        duplex=template.duplex,
        intent=Intent(template.intent),
        format=template.format,
        pdfa=template.pdfa,
        blank_page_suppression=template.blank_page_suppression,
    ).checked()


def start_walkup(
    scans: ScanJobs,
    template: ScanTemplateConfig,
    *,
    source: str,
    user: str = "",
    host: str = "",
) -> ScanJob:
    """Start the template's scan: it is delivered to the template's destinations when
    scanned. ScanBusy, ScanRefused and ScanSettingsError say why not."""
    return scans.create(
        settings_of(template),
        source=source,
        user=user,
        host=host,
        name=template.name,
        destinations=list(template.destinations),
        template=template.name,
        output="document",
    )
