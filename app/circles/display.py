"""A circle's time and length as a reader sees them: in the program's time zone, named, in her
language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_name
from flask_babel import format_date, format_time, get_locale, ngettext

from app.circles.models import Circle
from app.config import current_settings


def when(moment: datetime) -> dict[str, str]:
    """``day``, ``time`` and ``zone`` (its name in the reader's language) of a moment."""
    local = moment.astimezone(ZoneInfo(current_settings().display_timezone))
    return {
        "day": format_date(local, "full"),
        "time": format_time(local, "short"),
        "zone": get_timezone_name(local, locale=get_locale() or "en"),
    }


def length(circle: Circle) -> str:
    """How long it lasts: "90 minutes", or "2 hours" when the hours are whole."""
    if circle.minutes % 60 == 0:
        hours = circle.minutes // 60
        return ngettext("%(num)d hour", "%(num)d hours", hours)
    return ngettext("%(num)d minute", "%(num)d minutes", circle.minutes)
