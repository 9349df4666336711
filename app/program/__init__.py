"""Running the program: the coordinators' pages for the people on the team."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.program import audit_log, people

    app.register_blueprint(people.blueprint)
    app.register_blueprint(audit_log.blueprint)
