"""Know your rights: a library of short articles that counsel and coordinators write, in the
program's languages, read by anyone at /rights and linked after a report that they match."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.rights import cli, staff_views, views

    app.register_blueprint(views.blueprint)
    app.register_blueprint(staff_views.blueprint)
    cli.init_cli(app)
