"""The audit package listens to every signal and writes one log entry per event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask

from app.audit.log import append, append_many
from app.signals import SIGNALS


def _record(
    name: str,
    *,
    actor: str,
    role: str,
    case_id: str | None,
    detail: dict[str, Any],
    events: Sequence[tuple[str | None, dict[str, Any]]] | None = None,
) -> None:
    if events is not None:  # app.signals.announce_each: one entry per event, in one transaction
        append_many(name, actor_id=actor, actor_role=role, events=events)
        return
    append(name, actor_id=actor, actor_role=role, case_id=case_id, detail=detail)


def init_audit(app: Flask) -> None:
    for signal in SIGNALS.values():
        # weak=False: the listener lives as long as the process.
        signal.connect(_record, weak=False)
    from app.audit.cli import init_cli

    init_cli(app)
