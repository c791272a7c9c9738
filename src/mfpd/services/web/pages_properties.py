"""The administrator's Properties pages: identity, services and their ports, LPD queues,
SNMP, the web policy and password, API tokens, and the operator's actions.

Every settings form becomes an RFC 7396 merge patch of the settings document, holding only
what the form changed, and goes through the same validation as PATCH /api/v1/config; a
refusal is shown beside the form that caused it (HTTP 422), with what was typed kept.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mfpd.config import HTTP_DEPENDENTS
from mfpd.device.identity import EDITABLE
from mfpd.device.operator import FAULTS
from mfpd.security.login import MAX_PASSWORD, Role
from mfpd.security.tls import TLS_DIR, CertificateError, ca_bundle_info, certificate_info
from mfpd.services.base import PortEntry
from mfpd.services.web import access
from mfpd.services.web.actions import ActionError, device_action
from mfpd.services.web.api import (
    make_signing_request,
    overwrite_now,
    replace_ca_bundle,
    replace_certificate,
)
from mfpd.services.web.pages_ip_filter import post_ip_filter
from mfpd.services.web.pages_ipsec import NOT_ENFORCED, TUNNEL_LIFE, post_ipsec
from mfpd.services.web.pages_render import (
    actor,
    ctx_of,
    flash,
    form_of,
    render,
    safe_next,
    see_other,
)
from mfpd.services.web.pages_settings import PATCHES, FormError
from mfpd.services.web.state import SERVICE
from mfpd.settings import SECRET_MASK, SettingsError, merge_patch, needs_tls


@dataclass(frozen=True)
class Section:
    key: str
    path: str
    title: str
    template: str


SECTIONS = (
    Section("general", "/properties", "General", "properties_general.html"),
    Section("services", "/properties/services", "Services", "properties_services.html"),
    Section("snmp", "/properties/snmp", "SNMP", "properties_snmp.html"),
    Section("security", "/properties/security", "Security", "properties_security.html"),
    Section("ip-filter", "/properties/ip-filter", "IP filtering", "properties_ip_filter.html"),
    Section("ipsec", "/properties/ipsec", "IPsec", "properties_ipsec.html"),
    Section("tokens", "/properties/tokens", "API tokens", "properties_tokens.html"),
    Section("operator", "/properties/operator", "Operator", "properties_operator.html"),
)
_BY_KEY = {s.key: s for s in SECTIONS}

IDENTITY_LABELS = {
    "printer_name": ("Device name", "The name every protocol reports; empty: the host name."),
    "hostname": ("Host name", "Announced over IPP, SNMP sysName and discovery."),
    "location": ("Location", "IPP printer-location and SNMP sysLocation."),
    "contact": ("Contact", "SNMP sysContact: who looks after the device."),
    "info": ("Description", "IPP printer-info; empty: make, model and host name."),
    "organization": ("Organization", ""),
    "organizational_unit": ("Organizational unit", ""),
    "asset_number": ("Asset number", ""),
    "geo_location": ("Geo location", "An RFC 5870 geo: URI, e.g. geo:48.8584,2.2945"),
    "current_operator": ("Current operator", "SNMP prtGeneralCurrentOperator."),
    "service_person": ("Service person", "SNMP prtGeneralServicePerson."),
}
# The identity form's order: the names first, then where and who, then the rest.
_IDENTITY_ORDER = [k for k in IDENTITY_LABELS if k in EDITABLE] + [
    k for k in EDITABLE if k not in IDENTITY_LABELS
]
SERVICE_LABELS = {
    # The hints name no port: the row shows the standard one and where the service is now.
    "raw": ("Raw TCP/IP printing", "AppSocket / JetDirect with PJL"),
    "lpd": ("LPD", "Line Printer Daemon, RFC 1179"),
    "http": ("HTTP", "This web server and IPP over plain HTTP"),
    "https": ("HTTPS", "The web server and IPPS over TLS"),
    "ipp": ("IPP", "Internet Printing Protocol (IPP Everywhere)"),
    "snmp": ("SNMP", "Printer MIB, Host Resources MIB, traps"),
    "slp": ("SLP", "Service Location Protocol"),
    "ssdp": ("SSDP", "UPnP discovery"),
    "status": ("Status channel", "Internal status port, loopback only"),
    "mdns": ("Bonjour (mDNS)", "Multicast DNS / DNS-SD"),
    "wsd": ("WS-Discovery", "Web Services for Devices"),
    "netbios_ns": ("NetBIOS name service", ""),
    "netbios_dgm": ("NetBIOS datagram service", ""),
}
AUTH_PROTOCOLS = ("sha256", "sha384", "sha512", "sha224", "sha", "md5")
PRIV_PROTOCOLS = ("aes", "aes192", "aes256", "none", "des")
TRAP_VERSIONS = ("v2c", "v1", "v3")
ALERT_TRAPS = ("critical", "all", "none")
MIN_PASSWORD = 8
IP_FILTER_CHOICES = {
    "protocol": ("all", "tcp", "udp", "icmp"),
    "action": ("accept", "reject", "drop"),
}
REFILL_GROUPS = (("all", "Everything"), ("trays", "All paper trays"), ("toner", "All toner"))


def _settings(request: web.Request) -> dict[str, Any]:
    return access.web_state(request).settings()


def _ports(request: web.Request) -> dict[str, list[PortEntry]]:
    rows: dict[str, list[PortEntry]] = {}
    for row in access.web_state(request).ports():
        rows.setdefault(row.service, []).append(row)
    return rows


def section_page(
    request: web.Request,
    section: Section,
    *,
    errors: dict[str, str] | None = None,
    patch: dict[str, Any] | None = None,
    status: int = 200,
    rules: list[dict[str, Any]] | None = None,
) -> web.Response:
    settings = _settings(request)
    if patch:
        # What was typed, shown again beside the refusal (the patch has the document's shape).
        settings = merge_patch(settings, patch)
    device = ctx_of(request).device
    tokens = access.web_state(request).tokens.list() if section.key == "tokens" else []
    return render(
        request,
        section.template,
        "properties",
        f"Properties \N{EN DASH} {section.title}",
        status=status,
        sections=SECTIONS,
        section=section,
        settings=settings,
        errors=errors or {},
        mask=SECRET_MASK,
        identity_fields=[(k, *IDENTITY_LABELS.get(k, (k, ""))) for k in _IDENTITY_ORDER],
        service_labels=SERVICE_LABELS,
        http_dependents=HTTP_DEPENDENTS,
        ports=_ports(request) if section.key == "services" else {},
        auth_protocols=AUTH_PROTOCOLS,
        priv_protocols=PRIV_PROTOCOLS,
        trap_versions=TRAP_VERSIONS,
        alert_traps=ALERT_TRAPS,
        tokens=tokens,
        faults=FAULTS,
        refill_groups=REFILL_GROUPS,
        trays=device.trays,
        supplies=device.supplies,
        paused=device.paused,
        min_password=MIN_PASSWORD,
        certificate=_certificate(request) if section.key == "security" else {},
        rules=rules if rules is not None else _rules(request, section),
        rule_fields=IP_FILTER_CHOICES,
        ipsec_note=NOT_ENFORCED,
        tunnel_life=TUNNEL_LIFE,
        backend_state=ctx_of(request).gate.backend_state if section.key == "ip-filter" else "",
        overwrite=_overwrite_status(request) if section.key == "security" else {},
        ca_bundle=_ca_bundle(request) if section.key == "security" else {},
    )


def _overwrite_status(request: web.Request) -> dict[str, object]:
    overwriter = ctx_of(request).overwriter
    if overwriter is None:
        return {"mode": ctx_of(request).config.security.image_overwrite, "running": None}
    return overwriter.status()


def _rules(request: web.Request, section: Section) -> list[dict[str, Any]]:
    if section.key != "ip-filter":
        return []
    ctx = ctx_of(request)
    return [
        {**rule.model_dump(), "hits": ctx.gate.hits.get(n, 0)}
        for n, rule in enumerate(ctx.config.ip_filter.rules, 1)
    ]


def _certificate(request: web.Request) -> dict[str, object]:
    try:
        ctx = ctx_of(request)
        return certificate_info(ctx.state_dir / TLS_DIR, ctx.config.tls.expiry_warning_days)
    except (OSError, ValueError):
        return {}


def _ca_bundle(request: web.Request) -> dict[str, object]:
    ctx = ctx_of(request)
    return ca_bundle_info(ctx.state_dir / TLS_DIR, ctx.config.tls)


def _refused(request: web.Request, key: str) -> web.StreamResponse | None:
    """The operator section (faults, refills) is an operator's too; the rest is settings."""
    return access.require_role(request, Role.OPERATOR if key == "operator" else Role.ADMINISTRATOR)


async def get_section(request: web.Request) -> web.StreamResponse:
    key = request.match_info.get("section", "general")
    refused = _refused(request, key)
    if refused is not None:
        return refused
    section = _BY_KEY.get(key)
    if section is None:
        raise web.HTTPNotFound(text="404 Not Found\n")
    return section_page(request, section)


async def post_section(request: web.Request) -> web.StreamResponse:
    key = request.match_info.get("section", "general")
    refused = _refused(request, key)
    if refused is not None:
        return refused
    section = _BY_KEY.get(key)
    if section is None:
        raise web.HTTPNotFound(text="404 Not Found\n")
    form = await form_of(request)
    name = form.get("form", "")
    if section.key == "operator":
        return await _operator(request, section, form)
    if section.key == "tokens":
        return _tokens(request, section, form)
    if section.key == "ipsec":

        def shown(errors: dict[str, str], status: int) -> web.Response:
            return section_page(request, section, errors=errors, status=status)

        return await post_ipsec(request, shown, form, _settings(request))
    if section.key == "ip-filter":

        def again(errors: dict[str, str], rules: list[dict[str, str]], status: int) -> web.Response:
            return section_page(request, section, errors=errors, rules=rules, status=status)

        return await post_ip_filter(request, again, form)
    if section.key == "security" and name == "password":
        return await _password(request, section, form)
    if section.key == "security" and name in ("csr", "certificate", "ca_bundle"):
        return await _tls(request, section, name, form)
    if section.key == "security" and name == "overwrite":
        return await _overwrite(request, section)
    builder = PATCHES.get((section.key, name))
    if builder is None:
        raise web.HTTPBadRequest(text=f"400 Bad Request: unknown form {name!r}\n")
    settings = _settings(request)
    try:
        patch = builder(form, settings)
    except FormError as exc:
        return section_page(request, section, errors={name: str(exc)}, status=422)
    if not patch:
        flash(request, "Nothing to change.", "info")
        raise see_other(request, section.path)
    tls_only = needs_tls(patch)
    if tls_only and not request.secure:
        why = f"{', '.join(tls_only)} can be changed over HTTPS only"
        return section_page(request, section, errors={name: why}, patch=patch, status=403)
    state = access.web_state(request)
    try:
        # A copy: the validation puts stored SNMP keys in place of their masks, and the
        # patch is shown again if it is refused.
        await state.change_settings(
            copy.deepcopy(patch),
            carrying=request.app[SERVICE].name,
            actor=actor(request),
            who=access.audit_actor(request),
        )
    except SettingsError as exc:
        return section_page(request, section, errors={name: str(exc)}, patch=patch, status=422)
    flash(request, "Saved. The change is in effect.")
    raise see_other(request, section.path)


async def _password(
    request: web.Request, section: Section, form: dict[str, str]
) -> web.StreamResponse:
    state = access.web_state(request)
    # The form changes the local administrator's password, whoever administers: a directory
    # administrator proves it with that account's current password too.
    user = state.admin.user
    new = form.get("new_password", "")
    remote = request.remote or "unknown"
    error = ""
    if not MIN_PASSWORD <= len(new) <= MAX_PASSWORD:
        error = f"The new password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters."
    elif new != form.get("confirm_password", ""):
        error = "The new password and its confirmation differ."
    else:
        # The current password proves it is the administrator at the keyboard, not a
        # session left open; it is slowed like a login, since it can be guessed the same way.
        delay = state.throttle.delay(remote)
        if delay > 0:
            await asyncio.sleep(delay)
        current = form.get("current_password", "")[:MAX_PASSWORD]
        if not await asyncio.to_thread(state.admin.verify, user, current):
            state.throttle.failed(remote)
            state.log.record(
                "login", f"wrong current password on a password change from {remote}", "warning"
            )
            error = "The current password is wrong."
    if error:
        return section_page(request, section, errors={"password": error}, status=422)
    await asyncio.to_thread(state.admin.set_password, new)
    feed = access.audit_feed(request)
    if feed is not None:
        feed.credential_change(access.audit_actor(request), "web.admin_password")
    # Every other session of the administrator ends; this one continues under a new id.
    state.sessions.end_all(user)
    me = access.user_of(request) or user
    access.remember(
        request, state.sessions.login(access.session_of(request), me, access.role_of(request))
    )
    state.log.record("config", f"administrator password changed by {actor(request)}", user=user)
    note = (
        " Turn “factory default credentials” off for it to be used."
        if ctx_of(request).config.web.default_credentials
        else ""
    )
    flash(request, "The password is changed; other sessions were logged out." + note)
    raise see_other(request, section.path)


async def _tls(
    request: web.Request, section: Section, name: str, form: dict[str, str]
) -> web.StreamResponse:
    """A signing request for the device's key, or a certificate (signed from one, or with
    its own key) installed in place of the self-signed one."""
    if name == "csr":
        try:
            csr = make_signing_request(request, form.get("common_name", "").strip())
        except CertificateError as exc:
            return section_page(request, section, errors={"certificate": str(exc)}, status=422)
        flash(request, "The signing request is made: give it to your certificate authority.",
              secret=csr)  # fmt: skip
        raise see_other(request, section.path)
    if name == "ca_bundle":
        try:
            bundle = replace_ca_bundle(request, form.get("bundle", ""))
        except CertificateError as exc:
            return section_page(request, section, errors={"ca_bundle": str(exc)}, status=422)
        flash(
            request,
            "The CA bundle is imported." if bundle["uploaded"] else "The CA bundle is removed.",
        )
        raise see_other(request, section.path)
    try:
        info = await replace_certificate(request, form.get("certificate", ""), form.get("key", ""))
    except CertificateError as exc:
        return section_page(request, section, errors={"certificate": str(exc)}, status=422)
    flash(request, f"The certificate of {info['subject']} is installed; HTTPS uses it now.")
    raise see_other(request, section.path)


async def _overwrite(request: web.Request, section: Section) -> web.StreamResponse:
    try:
        report = await overwrite_now(request)
    except ActionError as exc:
        return section_page(request, section, errors={"overwrite": str(exc)}, status=exc.status)
    if not report["verified"]:
        return section_page(
            request, section, errors={"overwrite": "Not verified: " + "; ".join(report["errors"])},
            status=500,
        )  # fmt: skip
    flash(request, f"Image overwrite done and verified: {report['files']} files, "
          f"{report['bytes'] + report['free_space_bytes']} bytes overwritten.")  # fmt: skip
    raise see_other(request, section.path)


def _tokens(request: web.Request, section: Section, form: dict[str, str]) -> web.StreamResponse:
    state = access.web_state(request)
    if form.get("form") == "revoke":
        token_id = form.get("id", "")
        if not state.tokens.delete(token_id):
            return section_page(
                request, section, errors={"tokens": f"There is no token {token_id}."}, status=404
            )
        _audit_token(request, "revoked", token_id)
        state.log.record("config", f"API token {token_id} revoked by {actor(request)}")
        flash(request, f"Token {token_id} is revoked.")
        raise see_other(request, section.path)
    name = form.get("name", "").strip()
    if not 1 <= len(name) <= 64:
        return section_page(
            request, section, errors={"create": "A token's name has 1 to 64 characters."},
            status=422,
        )  # fmt: skip
    token, secret = state.tokens.create(name)
    _audit_token(request, "created", token.id, name)
    state.log.record("config", f"API token {token.id} ({name}) created by {actor(request)}")
    flash(request, f"Token {token.id} “{name}” is created. Copy it now: it is not shown again.",
          secret=secret)  # fmt: skip
    raise see_other(request, section.path)


def _audit_token(request: web.Request, action: str, token_id: str, name: str = "") -> None:
    feed = access.audit_feed(request)
    if feed is not None:
        feed.credential_change(
            access.audit_actor(request), "api_tokens", action=action, token=token_id, name=name
        )


async def _operator(
    request: web.Request, section: Section, form: dict[str, str]
) -> web.StreamResponse:
    device = ctx_of(request).device
    action = form.get("action", "")
    try:
        message = device_action(device, action, form.get("kind", ""), form.get("target", ""))
    except ActionError as exc:
        return section_page(request, section, errors={"operator": str(exc)}, status=exc.status)
    access.web_state(request).log.record(
        "device", f"{message} (by {actor(request)})", action=action
    )
    flash(request, message[:1].upper() + message[1:] + ".")
    raise see_other(request, safe_next(form.get("next"), section.path))


def add_routes(app: web.Application) -> None:
    r = app.router
    sections = "|".join(s.key for s in SECTIONS if s.key != "general")
    r.add_get("/properties", get_section)
    r.add_post("/properties", post_section)
    r.add_get(f"/properties/{{section:{sections}}}", get_section)
    r.add_post(f"/properties/{{section:{sections}}}", post_section)
