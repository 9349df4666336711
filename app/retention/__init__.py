"""Retention: cases kept as long as the policy says, then crypto-shredded; legal holds; the
coordinators' weekly list of what goes next; a reporter deleting her own report."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.retention import views

    app.register_blueprint(views.blueprint)
