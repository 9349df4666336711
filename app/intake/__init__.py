"""The reporter's side: the report form, the receipt, the status pages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # status and support add their pages to the blueprint
    from app.intake import deleting, status, support, views  # noqa: F401

    app.register_blueprint(views.blueprint)
