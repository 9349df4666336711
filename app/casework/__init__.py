"""Case handling for responders and coordinators: the queue, a case's page, what they do."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.casework import views

    app.register_blueprint(views.blueprint)
