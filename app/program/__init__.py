"""Running the program: the coordinators' pages for the people on the team."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.program import people

    app.register_blueprint(people.blueprint)
