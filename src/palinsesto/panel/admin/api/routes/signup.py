"""The public sign-up for self-service panels (``PALINSESTO_SIGNUP``): no token needed.

Off, both endpoints answer 404, as if they did not exist. The password follows the same
rules as any admin user's (8 to 256 characters); the e-mail and slug are checked before
the password is hashed. Attempts are throttled per client address (429 + Retry-After).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from palinsesto.accounts.models import TenantStatus
from palinsesto.accounts.plans import plan_named
from palinsesto.accounts.security import hash_password
from palinsesto.accounts.signup import (
    SignupMode,
    SignupRequest,
    SignupThrottle,
    TooManySignups,
    check_signup_values,
    sign_up,
)
from palinsesto.context import AppContext
from palinsesto.panel.admin.api.deps import Context
from palinsesto.panel.admin.api.errors import NotFound, Throttled
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.routes.tenants import PlanOut
from palinsesto.panel.admin.api.routes.users import Password, Username
from palinsesto.trust.audit import record

router = APIRouter(tags=["signup"])


class SignupIn(InputModel):
    panel_name: Label = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=63, description="the panel's short address")
    email: str = Field(min_length=3, max_length=255)
    username: Username
    password: Password


class SignupOut(BaseModel):
    tenant_id: int
    slug: str
    status: TenantStatus
    username: str
    plan: str
    trial_ends_at: datetime | None
    message: str


class SignupInfo(BaseModel):
    mode: SignupMode
    plan: PlanOut


def _mode(ctx: AppContext) -> SignupMode:
    mode = SignupMode(ctx.settings.signup)
    if mode is SignupMode.off:
        raise NotFound("Sign-up is closed on this platform.", code="signup_off")
    return mode


def _throttle(ctx: AppContext) -> SignupThrottle:
    throttle = ctx.services.get("signup_throttle")
    if throttle is None:
        throttle = SignupThrottle(ctx.settings.signup_per_hour)
        ctx.services["signup_throttle"] = throttle
    return throttle


@router.get("/signup", response_model=SignupInfo)
def signup_info(ctx: Context) -> SignupInfo:
    """Whether sign-up is open or needs approval, and the plan a new panel starts on."""
    mode = _mode(ctx)
    return SignupInfo(mode=mode, plan=PlanOut(**asdict(plan_named(ctx.settings.signup_plan))))


@router.post("/signup", response_model=SignupOut, status_code=201)
async def create_signup(body: SignupIn, request: Request, ctx: Context) -> SignupOut:
    mode = _mode(ctx)
    ip = request.client.host if request.client else ""
    try:
        _throttle(ctx).reserve(ip)
    except TooManySignups as exc:
        raise Throttled(
            "Too many sign-ups from this address; try again later.",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    check_signup_values(body.slug, body.email)
    # argon2 outside the transaction: SQLite's write lock is not held while it runs.
    password_hash = await run_in_threadpool(hash_password, body.password)
    plan = plan_named(ctx.settings.signup_plan)
    wanted = SignupRequest(body.panel_name, body.slug, body.email, body.username, password_hash)

    def store() -> SignupOut:
        with ctx.db.transaction() as session:
            tenant, owner = sign_up(session, wanted, plan, mode, datetime.now(UTC))
            record(
                session,
                actor_id=owner.id,
                actor=owner.username,
                tenant_id=tenant.id,
                action="signup",
                entity="tenant",
                entity_id=tenant.id,
                after={"slug": tenant.slug, "plan": plan.name, "status": tenant.status.value},
                ip=ip,
            )
            pending = tenant.status is TenantStatus.pending
            return SignupOut(
                tenant_id=tenant.id,
                slug=tenant.slug,
                status=tenant.status,
                username=owner.username,
                plan=plan.name,
                trial_ends_at=tenant.trial_ends_at,
                message="Your panel waits for the platform's approval; you can sign in once "
                "it is approved."
                if pending
                else "Your panel is ready: sign in with your username and password.",
            )

    return await run_in_threadpool(store)
