"""Backups that restore: encrypted snapshots of the database (`flask backup`)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.backup.cli import init_cli

    init_cli(app)
