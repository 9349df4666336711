"""The audit log: one tamper-evident entry per announced event (app.signals)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.audit.listeners import init_audit

    init_audit(app)
