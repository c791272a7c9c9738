"""Properties > Security > IP Filtering: the filter's rules as a table an administrator edits,
reorders (first match wins, so order is meaning), deletes from and adds to, as on the device.

One form holds every row (`protocol.N`, `source.N`, ...); a row's Up, Down and Delete buttons
and the main Save button submit it whole, so nothing typed elsewhere is lost. The rules go
through the same validation and the same lock-out guard as PUT /api/v1/ip-filter.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import ValidationError

from mfpd.config import IpFilterConfig
from mfpd.services.web import access
from mfpd.services.web.api_ip_filter import locks_out
from mfpd.services.web.pages_render import actor, ctx_of, flash, see_other
from mfpd.services.web.state import SERVICE
from mfpd.settings import SettingsError

FIELDS = ("protocol", "source", "source_ports", "destination", "icmp_type", "action")
PATH = "/properties/ip-filter"


def rows_of(form: dict[str, str]) -> list[dict[str, str]]:
    """The rows of the form, in order; a row left blank (the empty "new rule" row) is none."""
    numbers = sorted({int(k.split(".")[1]) for k in form if k.count(".") == 1
                      and k.split(".")[0] in FIELDS and k.split(".")[1].isdigit()})  # fmt: skip
    rows = []
    for n in numbers:
        row = {f: form.get(f"{f}.{n}", "").strip() for f in FIELDS}
        if n == len(numbers) - 1 and form.get("new") == str(n) and not row["source"]:
            continue  # the "add a rule" row, not filled in
        rows.append(row)
    return rows


def apply_op(rows: list[dict[str, str]], op: str) -> list[dict[str, str]]:
    """up:N, down:N, delete:N on the rows (N counts from 0)."""
    verb, _, index = op.partition(":")
    if not index.isdigit() or int(index) >= len(rows):
        return rows
    i = int(index)
    rows = list(rows)
    if verb == "delete":
        del rows[i]
    elif verb == "up" and i > 0:
        rows[i - 1], rows[i] = rows[i], rows[i - 1]
    elif verb == "down" and i + 1 < len(rows):
        rows[i + 1], rows[i] = rows[i], rows[i + 1]
    return rows


RenderPage = Callable[[dict[str, str], list[dict[str, str]], int], web.Response]


async def post_ip_filter(
    request: web.Request, render_page: RenderPage, form: dict[str, str]
) -> web.StreamResponse:
    """The form's POST; `render_page(errors, rules, status)` shows the page again."""
    rows = apply_op(rows_of(form), form.get("op", ""))
    try:
        proposed = IpFilterConfig.model_validate(
            {
                # A field left empty takes its default (any source, every port, all services).
                "rules": [{k: v for k, v in row.items() if v} for row in rows],
                "backend": form.get("backend", "gate"),
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return render_page({"ip-filter": f"{where}: {first['msg']}"}, rows, 422)
    ctx = ctx_of(request)
    peer = request.transport.get_extra_info("peername") if request.transport else None
    address, port = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else ("", 0)
    guarded = bool(address) and form.get("force") != "on"
    if guarded and locks_out(ctx, proposed, address, port):
        message = (
            f"these rules would lock your address {address} out of HTTPS. Tick "
            "\N{LEFT DOUBLE QUOTATION MARK}Apply even so\N{RIGHT DOUBLE QUOTATION MARK} "
            "to apply them anyway."
        )
        return render_page({"ip-filter": message}, rows, 422)
    try:
        await access.web_state(request).change_settings(
            {"ip_filter": proposed.model_dump(mode="json")},
            carrying=request.app[SERVICE].name,
            actor=actor(request),
        )
    except SettingsError as exc:
        return render_page({"ip-filter": str(exc)}, rows, 422)
    flash(request, "Saved. The IP filter is in effect.")
    raise see_other(request, PATH)
