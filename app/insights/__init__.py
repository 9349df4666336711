"""The program's figures for coordinators: counts that protect reporters, charts and exports."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.insights import cli, views

    app.register_blueprint(views.blueprint)
    cli.init_cli(app)
