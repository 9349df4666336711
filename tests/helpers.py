"""Helpers that act as a reporter would: load a page, fill its form, send it."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
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


def support_answers(**answers: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "identity": "anonymous",
        "narrative": "Long shifts, and my shoulders ache. I would like to talk to someone.",
        "language": "en",
        "peer_support": "y",
    }
    data.update(answers)
    return {k: v for k, v in data.items() if v is not None}


def submit_support(client: FlaskClient, **answers: Any) -> TestResponse:
    """GET the support request form at /talk, then POST it with its tokens and ``answers``."""
    page = client.get("/talk")
    assert page.status_code == 200
    return client.post("/talk", data={**hidden_fields(page.get_data(as_text=True)), **support_answers(**answers)})


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


class _FormReader(HTMLParser):
    """What a browser would send from the form posting to ``action``: every field as filled in."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.values = action, False, {}  # type: ignore[var-annotated]
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.inside = attr.get("action") == self.action
        if not self.inside or "name" not in attr:
            return
        name = attr["name"]
        if tag == "input" and attr.get("type") not in ("submit", "button"):
            if attr.get("type") in ("checkbox", "radio"):
                if "checked" in attr:
                    self.values.setdefault(name, []).append(attr.get("value", "y"))
            else:
                self.values[name] = [attr.get("value", "")]
        elif tag == "textarea":
            self._textarea = name
            self.values[name] = [""]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.values[self._textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self.inside = False


def form_values(html: str, action: str) -> dict[str, list[str]]:
    """The fields of the form posting to ``action`` as a browser sends them unchanged: hidden
    fields, typed text, ticked boxes and chosen radio buttons and options."""
    reader = _FormReader(action)
    reader.feed(html)
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.findall(r'<option[^>]*value="([^"]*)"[^>]*\sselected', options)
        reader.values.setdefault(name, chosen[:1] or re.findall(r'<option[^>]*value="([^"]*)"', options)[:1])
    # A browser drops the new line that starts a text area's content.
    return {
        name: [value.removeprefix("\r\n").removeprefix("\n") for value in values]
        for name, values in reader.values.items()
    }
