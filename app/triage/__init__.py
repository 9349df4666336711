"""Triage and routing: each report's urgency, the responder it goes to, the deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask

from app.signals import SIGNALS

# What may let a responder take a case nobody fitted: a change to them (duty, languages,
# training, cap), the end of their break, a new account, one of their cases leaving them, or
# a reporter agreeing to peer support after all.
_MAY_FIT_NOW = (
    "staff_profile_changed",
    "staff_break_ended",
    "staff_enrolled",
    "staff_reactivated",
    "case_status_changed",
    "case_assigned",
    "case_unassigned",
    "consent_changed",
)


def init_app(app: Flask) -> None:
    from app.triage import cli
    from app.triage.rules import init_rules

    init_rules(app)
    cli.init_cli(app)
    for name in _MAY_FIT_NOW:
        # weak=False: the listener lives as long as the process (connecting again changes nothing).
        SIGNALS[name].connect(_may_fit_now, weak=False)
    SIGNALS["staff_deactivated"].connect(_release, weak=False)


def _may_fit_now(
    name: str,
    *,
    actor: str,
    role: str,
    case_id: str | None,
    detail: dict[str, Any],
    events: Sequence[tuple[str | None, dict[str, Any]]] = (),
) -> None:
    """Look for waiting cases someone may now take, in a job (announced after the commit,
    so the job reads what changed). A lost job is made up for by the periodic sweep."""
    if name == "case_status_changed" and detail.get("new") not in ("closed", "referred"):
        return
    if name == "case_assigned" and detail.get("previous") in (None, detail.get("to")):
        return
    if name == "consent_changed" and "peer_support" not in detail.get("purposes", ()):
        return
    from app.triage.queue import enqueue_offer

    enqueue_offer(name)


def _release(
    name: str,
    *,
    actor: str,
    role: str,
    case_id: str | None,
    detail: dict[str, Any],
    events: Sequence[tuple[str | None, dict[str, Any]]] = (),
) -> None:
    """A deactivated person's open cases are routed again at once, rather than wait, unseen,
    for a deadline that an acknowledged case no longer has."""
    from app.triage.queue import enqueue_route
    from app.triage.routing import release_cases

    for released, level in release_cases(str(detail.get("staff", ""))):
        enqueue_route(released, level)
