"""A real SMTP server on loopback for tests that read the emails the app sends.

A package's conftest.py imports the ``smtp`` fixture to offer it to its tests."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from flask import Flask


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        data = envelope.content  # type: ignore[attr-defined]
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(data)))  # type: ignore[attr-defined]
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [message for recipients, message in self.messages if address in recipients]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback, and the app pointed at it."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = app.config["CONFIDE"]
    mail = dataclasses.replace(settings.mail, backend="smtp", host="127.0.0.1", port=port)
    monkeypatch.setitem(app.config, "CONFIDE", dataclasses.replace(settings, mail=mail))
    yield inbox, port
    controller.stop()
