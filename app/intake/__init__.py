"""The reporter's side: the report form, the receipt, the status pages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.intake import status, views  # noqa: F401  (status adds its pages to the blueprint)

    app.register_blueprint(views.blueprint)
