"""Where the web server finds the scanner's parts on the ServiceContext: the sealed-secret
store, the mailboxes and the scan jobs (device/scan_jobs.py), in one place."""

from __future__ import annotations

from typing import Any

from mfpd.config import ScanTemplateConfig
from mfpd.device.mailboxes import Mailboxes
from mfpd.device.scan_settings import ColorMode, InputSource, Intent, ScanSettings
from mfpd.security.secrets import Secrets
from mfpd.services.base import ServiceContext


def secrets_of(ctx: ServiceContext) -> Secrets:
    return Secrets(ctx.state_dir)


def mailboxes_of(ctx: ServiceContext) -> Mailboxes:
    return Mailboxes(ctx.state_dir, lambda: ctx.config.scan)


def template_settings(template: ScanTemplateConfig) -> ScanSettings:
    """What a template asks the scanner for, in the scanner's vocabulary (the region is the
    device's default, A4); ScanSettingsError naming what the scanner cannot do."""
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


def recent_scans(ctx: ServiceContext, limit: int) -> list[dict[str, Any]]:
    """The newest scan jobs as the job list shows them (none until the runner is there)."""
    return []
