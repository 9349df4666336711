"""A circle as a calendar event (.ics), for "Add to my calendar".

A calendar is synced to other devices and servers and seen by whoever shares it, so the event
holds only the title, the time and a line saying how to get the link or place: never the place
or the link themselves. Times are in UTC, which every calendar shows in its own zone."""

from __future__ import annotations

from flask_babel import gettext as _
from icalendar import Calendar, Event

from app.circles.models import Circle
from app.config import current_settings
from app.models import utcnow


def circle_event(circle: Circle) -> bytes:
    """The .ics file of ``circle``, its one line of text in the reader's language."""
    settings = current_settings()
    calendar = Calendar()
    calendar.add("prodid", "-//Confide//Peer circles//EN")
    calendar.add("version", "2.0")
    event = Event()
    host = settings.public_url.split("://", 1)[-1].split("/", 1)[0] or "confide"
    event.add("uid", f"circle-{circle.id}@{host}")
    event.add("dtstamp", utcnow())
    event.add("sequence", circle.version)
    event.add("dtstart", circle.starts_at)
    event.add("dtend", circle.ends_at)
    event.add("summary", circle.title)
    event.add(
        "description",
        _(
            "To get the link or the place, open %(url)s and ask for it. If you already asked, "
            "open %(code_url)s and enter your code.",
            url=settings.public_link(f"/circles/{circle.id}"),
            code_url=settings.public_link("/circles/code"),
        ),
    )
    if circle.cancelled_at is not None:
        event.add("status", "CANCELLED")
    calendar.add_component(event)
    return bytes(calendar.to_ical())
