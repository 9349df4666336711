"""Job bodies. Each takes ids only and may run twice with the effect of once."""

from __future__ import annotations

from workers.context import job_context


def route_case(case_id: str) -> str:
    """Route a committed case. Returns what happened, for the job's result."""
    from app.triage.routing import mark_awaiting_assignment

    with job_context():
        return "queued" if mark_awaiting_assignment(case_id) else "already-routed"
