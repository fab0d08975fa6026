"""Public pages about who runs a service and how it handles notices.

* ``/t/<slug>/operator``: the operator's name, address and contacts, where to send a notice
  or a counter-notice, the security contact and the transparency report;
* ``/t/<slug>/.well-known/security.txt``: RFC 9116 for that service (its own security
  contact first, then the platform's, then its notice form);
* ``/transparency`` and ``/t/<slug>/transparency``: the transparency report as a page
  (the same figures as ``/api/v1/public/transparency-report``);
* ``/counter-notice``: the public counter-notice form.

On a tenant's own domain (accounts/domains.py) ``/operator``, ``/.well-known/security.txt``
and ``/transparency`` are that tenant's, naming addresses on the domain.

Pages are written here with every value escaped; they carry no script.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
from sqlalchemy import select

from palinsesto.accounts.domains import host_and_port
from palinsesto.accounts.models import Tenant
from palinsesto.config import Settings
from palinsesto.panel.admin.api.errors import ApiError
from palinsesto.panel.admin.api.routes.transparency import build_report, period
from palinsesto.panel.playback.domains import shared_domains

STATIC_DIR = Path(__file__).resolve().parents[2] / "web"
_NO_CACHE = {"Cache-Control": "no-cache"}


def security_txt_body(
    settings: Settings, now: datetime, tenant: Tenant | None = None, domain_base: str = ""
) -> str:
    """RFC 9116's security.txt: where to report vulnerabilities and abuse, valid for a year.

    For a tenant: its own security contact first, the platform's next, its notice form last.
    ``domain_base`` (``scheme://host``): served on the tenant's own domain, whose addresses
    it then names (its operator page and canonical URL at the domain's root).
    """
    base = domain_base or settings.effective_public_url
    contacts = [tenant.security_contact] if tenant is not None and tenant.security_contact else []
    if settings.security_contact:
        contacts.append(settings.security_contact)
    service = f"?service={tenant.slug}" if tenant is not None else ""
    contacts.append(f"{base}/notice{service}")  # the notice form also reaches the operator
    where = tenant_base(settings, tenant, domain_base) if tenant is not None else base
    expires = (now + timedelta(days=365)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    lines = [f"Contact: {c}" for c in contacts]
    lines += [
        f"Expires: {expires}",
        f"Policy: {where}/operator" if tenant is not None else f"Policy: {base}/notice",
        f"Canonical: {where}/.well-known/security.txt",
        "Preferred-Languages: en",
    ]
    return "\n".join(lines) + "\n"


def tenant_base(settings: Settings, tenant: Tenant, domain_base: str = "") -> str:
    """Where a tenant's public legal pages live: its domain's root, or /t/<slug>."""
    return domain_base or f"{settings.effective_public_url}/t/{tenant.slug}"


def domain_tenant(request: Request) -> tuple[Tenant | None, str]:
    """The tenant whose own domain the request came on, and that domain as ``scheme://host``
    (``(None, "")`` on the platform's address)."""
    ctx = request.app.state.ctx
    host = request.headers.get("host", "")
    tenant_id = shared_domains(ctx.services, ctx.db, ctx.events).tenant_for_host(host)
    if tenant_id is None:
        return None, ""
    with ctx.db.session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            return None, ""
        session.expunge(tenant)
    scheme = "https" if request.url.scheme == "https" else "http"
    return tenant, f"{scheme}://{host_and_port(host)}"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="stylesheet" href="/panel/css/panel.css">\n<link rel="icon" href="data:,">\n'
        '</head>\n<body class="watch">\n<main id="main" class="watch-main">\n'
        f"<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )
    return HTMLResponse(html, status_code=status, headers=_NO_CACHE)


def _link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def _rows(pairs: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="card">{cells}</table>'


def _tenant(request: Request, slug: str) -> Tenant | None:
    with request.app.state.ctx.db.session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == slug[:64]))
        if tenant is not None:
            session.expunge(tenant)
        return tenant


def operator_page(tenant: Tenant, settings: Settings, domain_base: str = "") -> HTMLResponse:
    base = domain_base or settings.effective_public_url
    where = tenant_base(settings, tenant, domain_base)
    pairs = [("Service", escape(tenant.name))]
    if tenant.operator_name:
        pairs.append(("Operated by", escape(tenant.operator_name)))
    if tenant.operator_address:
        pairs.append(("Address", escape(tenant.operator_address)))
    if tenant.operator_email:
        pairs.append(("Contact", _link(f"mailto:{tenant.operator_email}", tenant.operator_email)))
    pairs.append(
        ("Report content", _link(f"{base}/notice?service={tenant.slug}", "the notice form"))
    )
    pairs.append(
        ("Object to a decision", _link(f"{base}/counter-notice", "the counter-notice form"))
    )
    security = tenant.security_contact or settings.security_contact
    if security:
        pairs.append(("Security contact", _link(security, security.removeprefix("mailto:"))))
    pairs.append(("security.txt", _link(f"{where}/.well-known/security.txt", "security.txt")))
    pairs.append(("Transparency", _link(f"{where}/transparency", "transparency report")))
    return _page(f"Who operates {tenant.name}", _rows(pairs))


def _count_rows(counts: dict[str, Any]) -> list[tuple[str, str]]:
    return [(name.replace("_", " "), str(value)) for name, value in counts.items()]


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


def report_page(report: dict[str, Any], title: str) -> HTMLResponse:
    """The transparency report's figures, table by table."""
    p = report["period"]
    sections = [
        f"<p>From {escape(p['since'])} to {escape(p['until'])}.</p>",
        "<h2>Notices</h2>",
        _rows(
            [
                ("received", str(report["notices"])),
                ("from trusted notifiers", str(report["from_trusted_notifiers"])),
                *[(f"under {k.upper()}", str(v)) for k, v in report["by_regime"].items()],
                *_count_rows(report["by_status"]),
            ]
        ),
        "<h2>Actions taken</h2>",
        _rows(_count_rows(report["actions"])),
        "<h2>Handling times (median)</h2>",
        _rows(
            [
                ("notice to first action", _seconds(report["median_seconds_to_action"])),
                ("notice to decision", _seconds(report["median_seconds_to_decision"])),
                (
                    "notice to decision, trusted notifiers",
                    _seconds(report["median_seconds_to_decision_trusted"]),
                ),
            ]
        ),
        "<h2>Counter-notices and restorations</h2>",
        _rows(
            [
                ("counter-notices received", str(report["counter_notices"]["received"])),
                *_count_rows(report["counter_notices"]["by_status"]),
                ("restorations after a counter-notice", str(report["restorations"])),
                ("restrictions ended at their expiry", str(report["expired_restrictions_lifted"])),
                ("restrictions lifted after a review", str(report["lifted_after_review"])),
            ]
        ),
    ]
    return _page(title, "\n".join(sections))


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _not_found() -> HTMLResponse:
    return _page("Not found", "<p>No service has this name on the platform.</p>", 404)


def mount_legal_pages(app: FastAPI) -> None:
    @app.get("/t/{slug}/operator", include_in_schema=False)
    def operator(request: Request, slug: str) -> HTMLResponse:
        tenant = _tenant(request, slug)
        if tenant is None:
            return _not_found()
        return operator_page(tenant, request.app.state.ctx.settings)

    @app.get("/t/{slug}/.well-known/security.txt", include_in_schema=False)
    def tenant_security_txt(request: Request, slug: str) -> PlainTextResponse:
        tenant = _tenant(request, slug)
        if tenant is None:
            return PlainTextResponse("No service has this name.\n", status_code=404)
        body = security_txt_body(request.app.state.ctx.settings, datetime.now(UTC), tenant)
        return PlainTextResponse(body, headers={"Cache-Control": "max-age=86400"})

    def transparency(request: Request, tenant: Tenant | None) -> HTMLResponse:
        query = request.query_params
        try:
            start, end = period(_when(query.get("since")), _when(query.get("until")))
        except ApiError as exc:
            return _page("Transparency report", f"<p>{escape(exc.message)}</p>", 422)
        with request.app.state.ctx.db.session() as session:
            report = build_report(session, tenant.id if tenant else None, start, end)
        title = f"Transparency report — {tenant.name}" if tenant else "Transparency report"
        return report_page(report, title)

    @app.get("/transparency", include_in_schema=False)
    def platform_transparency(request: Request) -> HTMLResponse:
        # On a tenant's own domain: that service's report.
        return transparency(request, domain_tenant(request)[0])

    @app.get("/operator", include_in_schema=False)
    def domain_operator(request: Request) -> HTMLResponse:
        """A tenant's operator page at its own domain's root."""
        tenant, domain_base = domain_tenant(request)
        if tenant is None:
            body = "<p>Each service's operator page is at /t/&lt;service&gt;/operator.</p>"
            return _page("Not found", body, 404)
        return operator_page(tenant, request.app.state.ctx.settings, domain_base)

    @app.get("/t/{slug}/transparency", include_in_schema=False)
    def tenant_transparency(request: Request, slug: str) -> HTMLResponse:
        tenant = _tenant(request, slug)
        if tenant is None:
            return _not_found()
        return transparency(request, tenant)

    @app.get("/counter-notice", include_in_schema=False)
    def counter_notice_page() -> FileResponse:
        # The public counter-notice form (DMCA 512(g)(3), DSA Art. 20).
        return FileResponse(STATIC_DIR / "counter-notice.html", headers=_NO_CACHE)
