"""Helpers that act as a reporter would: load a page, fill its form, send it."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

HIDDEN_RE = re.compile(r'<input[^>]*type="hidden"[^>]*>')
NAME_RE = re.compile(r'name="([^"]+)"')
VALUE_RE = re.compile(r'value="([^"]*)"')
RECEIPT_RE = re.compile(r'id="receipt">([^<]+)<')


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page (CSRF token, submission token), as a browser sends them."""
    fields = {}
    for tag in HIDDEN_RE.findall(html):
        name, value = NAME_RE.search(tag), VALUE_RE.search(tag)
        if name:
            fields[name.group(1)] = unescape(value.group(1)) if value else ""
    return fields


def report_answers(**answers: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "identity": "anonymous",
        "category": "sexual_harassment",
        "narrative": "A client made comments about my body during a session.",
        "language": "en",
        "peer_support": "y",
    }
    data.update(answers)
    return {k: v for k, v in data.items() if v is not None}


def submit_report(client: FlaskClient, **answers: Any) -> TestResponse:
    """GET the form, then POST it with its tokens and ``answers``."""
    page = client.get("/report")
    assert page.status_code == 200
    return client.post("/report", data={**hidden_fields(page.get_data(as_text=True)), **report_answers(**answers)})


def receipt_from(response: TestResponse) -> str:
    match = RECEIPT_RE.search(response.get_data(as_text=True))
    assert match, "no receipt on the confirmation page"
    return match.group(1).strip()


def open_status(client: FlaskClient, receipt: str) -> TestResponse:
    page = client.get("/status")
    return client.post(
        "/status", data={**hidden_fields(page.get_data(as_text=True)), "receipt": receipt}, follow_redirects=True
    )


def csrf_token(client: FlaskClient, path: str) -> str:
    return hidden_fields(client.get(path).get_data(as_text=True))["csrf_token"]


def is_checked(html: str, field_id: str) -> bool:
    """Whether the checkbox with ``field_id`` is ticked on the page."""
    match = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', html)
    assert match, f"no input {field_id} on the page"
    return re.search(r"\schecked[\s>]", match.group(0)) is not None
