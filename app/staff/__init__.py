"""Staff accounts: enrolment, sign-in with a second factor, sessions, profiles."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.staff import cli, paging_views, views

    app.register_blueprint(views.blueprint)
    app.register_blueprint(paging_views.blueprint)
    cli.init_cli(app)
