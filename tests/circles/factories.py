"""Circles made through the real services (sealed, audited), and requests made as a therapist
makes them: through the pages, with their tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.circles import services
from app.circles.models import Circle
from app.circles.sealing import Where
from tests.factories import Staff, make_staff
from tests.helpers import hidden_fields

CODE_RE = re.compile(r'id="circle-code">([^<]+)<')
LINK = "https://meet.example.org/room-4471-secret"
PLACE = "Room 12, second floor, 88 Quiet Lane, Hartford"


def soon(hours: float = 48) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


def make_circle(
    *,
    by: Staff | None = None,
    facilitator: Staff | None = None,
    title: str = "Evening circle",
    language: str = "en",
    online: bool = True,
    link: str = LINK,
    place: str = "",
    starts_at: datetime | None = None,
    minutes: int = 90,
    capacity: int = 8,
    ground_rules: str = "",
) -> Circle:
    coordinator = by or make_staff("coordinator")
    fields = services.CircleFields(
        title=title,
        language=language,
        format="online" if online else "in_person",
        where=Where(place=place if not online or place else "", link=link if online else ""),
        starts_at=starts_at or soon(),
        minutes=minutes,
        capacity=capacity,
        facilitator_id=(facilitator or coordinator).id,
        ground_rules=ground_rules,
    )
    return services.publish(fields, by=coordinator.user)


def ask(client: FlaskClient, circle_id: str, **answers: Any) -> TestResponse:
    """Open the ask form, then send it with its tokens and ``answers`` (a name by default)."""
    page = client.get(f"/circles/{circle_id}/ask")
    assert page.status_code == 200, page.status_code
    data = {**hidden_fields(page.get_data(as_text=True)), "name": "Rosa", **answers}
    return client.post(f"/circles/{circle_id}/ask", data={k: v for k, v in data.items() if v is not None})


def code_from(response: TestResponse) -> str:
    match = CODE_RE.search(response.get_data(as_text=True))
    assert match, "no code on the page"
    return unescape(match.group(1)).strip()


def open_code(client: FlaskClient, code: str) -> TestResponse:
    page = client.get("/circles/code")
    return client.post("/circles/code", data={**hidden_fields(page.get_data(as_text=True)), "code": code})
