"""Running the program: the coordinators' pages for the people on the team."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Importing person_actions and load_views adds their routes to the people pages, and cli
    # its command to `flask staff` (app.staff.cli).
    from app.program import audit_log, cli, load_views, own_account, people, person_actions  # noqa: F401

    app.register_blueprint(people.blueprint)
    app.register_blueprint(load_views.blueprint)
    app.register_blueprint(own_account.blueprint)
    app.register_blueprint(audit_log.blueprint)
