"""Properties > IPsec: the paper's IPsec policies, recorded, validated and shown, not enforced.

mfpd runs as a process on a host whose kernel ESP it does not configure, so the page (as the
API and the README) says plainly that the policies are recorded and not applied to traffic.
Forms: the switches (IPsec on, peers without IPsec allowed), a new policy, and a policy's
Delete. Over plain HTTP every change is refused (HTTPS only, as on the device).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from mfpd.security.ipsec import NOT_ENFORCED, TUNNEL_LIFE
from mfpd.services.web import access
from mfpd.services.web.pages_render import actor, flash, see_other
from mfpd.services.web.state import SERVICE
from mfpd.settings import SettingsError

PATH = "/properties/ipsec"
__all__ = ["NOT_ENFORCED", "TUNNEL_LIFE", "post_ipsec"]
RenderPage = Callable[[dict[str, str], int], web.Response]


def _policy(form: dict[str, str]) -> dict[str, Any]:
    protocols = [p.strip() for p in form.get("protocols", "all").split(",") if p.strip()]
    policy: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "peers": form.get("peers", "").strip(),
        "authentication": form.get("authentication", "pre-shared-key"),
        "protocols": protocols or ["all"],
        "mode": form.get("mode", "transport"),
        "pfs": form.get("pfs") == "on",
    }
    for key in ("ike_lifetime_minutes", "ipsec_lifetime_minutes", "dh_group"):
        value = form.get(key, "").strip()
        if value:
            # Numbers as numbers (dh_group is one of two); other text left for the
            # validation to name.
            policy[key] = int(value) if value.isdigit() else value
    if policy["authentication"] == "certificate":
        policy["peer_certificate"] = form.get("peer_certificate", "").strip()
    else:
        policy["pre_shared_key"] = form.get("pre_shared_key", "")
    return policy


async def post_ipsec(
    request: web.Request, render_page: RenderPage, form: dict[str, str], settings: dict[str, Any]
) -> web.StreamResponse:
    if not request.secure:
        return render_page({"ipsec": "IPsec settings can be changed over HTTPS only"}, 403)
    current = settings["ipsec"]
    name = form.get("form", "")
    policies = list(current["policies"])  # pre-shared keys masked: kept by name on save
    patch: dict[str, Any]
    if name == "switches":
        patch = {"enabled": form.get("enabled") == "on",
                 "allow_non_ipsec": form.get("allow_non_ipsec") == "on"}  # fmt: skip
    elif name == "add":
        patch = {"policies": [*policies, _policy(form)]}
    elif name == "delete":
        patch = {"policies": [p for p in policies if p["name"] != form.get("name")]}
    else:
        raise web.HTTPBadRequest(text=f"400 Bad Request: unknown form {name!r}\n")
    try:
        await access.web_state(request).change_settings(
            {"ipsec": patch}, carrying=request.app[SERVICE].name, actor=actor(request)
        )
    except SettingsError as exc:
        return render_page({"ipsec": str(exc)}, 422)
    flash(request, "Saved. The IPsec policies are recorded (not enforced on this host).")
    raise see_other(request, PATH)
