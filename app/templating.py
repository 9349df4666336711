"""What every template may use: filters for times and the program's words.

Registered on the app by create_app; a feature's own template helpers stay with its views.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import format_date, format_datetime

from app.config import current_settings
from app.models import utcnow
from app.vocabulary import CASE_LABELS, STATUSES, SUPPORT, SUPPORT_STATUSES, WANTS


def time_left(deadline: object) -> str:
    """How long until ``deadline`` ("3 h 05 min left", "overdue by 2 d 4 h"), for staff pages."""
    if not isinstance(deadline, datetime):
        return ""
    seconds = int((deadline - utcnow()).total_seconds())
    sign = "" if seconds >= 0 else "overdue by "
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = f"{days} d {hours} h" if days else f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    return f"{sign}{text}" if sign else f"{text} left"


def local_time(moment: object, seconds: bool = False) -> str:
    """A time in the programme's own zone, with the zone named, for staff pages."""
    if not isinstance(moment, datetime):
        return ""
    zone = ZoneInfo(current_settings().display_timezone)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def want_label(code: str) -> str:
    return str(WANTS.get(code, code))


def _labels() -> dict[str, object]:
    return {
        # ``kind``: a support request's statuses speak of her request, not a report.
        "status_label": lambda code, kind="": (SUPPORT_STATUSES if kind == SUPPORT else STATUSES).get(code, code),
        "category_label": lambda code: CASE_LABELS.get(code, code),
        "format_date": format_date,
        "format_datetime": format_datetime,
    }


def init_templating(app: Flask) -> None:
    app.add_template_filter(time_left, "time_left")
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(want_label, "want_label")
    app.context_processor(_labels)
