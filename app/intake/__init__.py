"""The reporter's side: the report form, the receipt, the status pages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.intake import views

    app.register_blueprint(views.blueprint)
