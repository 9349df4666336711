"""Referrals to counsel, within the reporter's consent, as packets only counsel can open."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.signals import SIGNALS


def init_app(app: Flask) -> None:
    from app.referrals import cli, views

    app.register_blueprint(views.blueprint)
    cli.init_cli(app)
    # weak=False: the listener lives as long as the process (connecting again changes nothing).
    SIGNALS["staff_deactivated"].connect(_staff_deactivated, weak=False)


def _staff_deactivated(name: str, *, actor: str, role: str, case_id: str | None, detail: dict[str, Any]) -> None:
    """A counsel whose account was closed keeps nothing open (services.end_for_counsel)."""
    from app.extensions import db
    from app.referrals.services import end_for_counsel
    from app.staff.models import StaffUser

    person, by = db.session.get(StaffUser, detail["staff"]), db.session.get(StaffUser, actor)
    if person is not None and by is not None and person.role == "counsel":
        end_for_counsel(person, by=by)
