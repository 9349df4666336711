"""Peer circles: meetings coordinators publish, and therapists ask to join without an account."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.circles import staff_views, views

    app.register_blueprint(views.blueprint)
    app.register_blueprint(staff_views.blueprint)
