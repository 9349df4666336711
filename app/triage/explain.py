"""Reports as JSON, for ``flask triage explain``: why a report scored as it did.

A line holds one report with the report form's codes: ``language``, ``category``, ``narrative``,
``danger_now``, ``injured``, ``ongoing``, ``when`` and ``wants``. A missing field means the
question was not answered; other fields (a label such as ``expect``) are ignored.
"""

from __future__ import annotations

import json
from typing import Any

from app.cases.content import ReportContent
from app.triage.scoring import Triage, TriageRules, score
from app.vocabulary import CATEGORIES, WANTS, WHEN, YES_NO_UNSURE

ANSWERS = ("danger_now", "injured", "ongoing")


class BadReport(ValueError):
    """A line that is not a report; the message says what is wrong, never what it says."""


def parse_report(line: str) -> tuple[str, ReportContent]:
    """The category and answers of one JSON line."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise BadReport(f"not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(data, dict):
        raise BadReport("not a JSON object")
    category = _code(data, "category", CATEGORIES) or "other"
    narrative = data.get("narrative", "")
    if not isinstance(narrative, str):
        raise BadReport("narrative must be text")
    if not isinstance(data.get("language", ""), str):
        raise BadReport("language must be text")
    wants = data.get("wants", [])
    if not isinstance(wants, list) or any(not isinstance(w, str) or w not in WANTS for w in wants):
        raise BadReport(f"wants must be a list of {', '.join(WANTS)}")
    return category, ReportContent(
        narrative=narrative,
        when=_code(data, "when", WHEN),
        wants=tuple(wants),
        **{name: _code(data, name, YES_NO_UNSURE) for name in ANSWERS},
    )


def _code(data: dict[str, Any], name: str, allowed: dict[str, Any]) -> str:
    value = data.get(name, "")
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or value not in allowed:
        raise BadReport(f"{name} must be one of {', '.join(allowed)}, or empty")
    return str(value)


def explain(line: str, rules: TriageRules) -> dict[str, Any]:
    """One output line: ``{"level": "L0", "signals": [...]}``, or ``{"error": ...}``."""
    try:
        category, answers = parse_report(line)
    except BadReport as error:
        return {"error": str(error)}
    triage: Triage = score(category, answers, rules)
    return {"level": f"L{triage.level}", "signals": [*triage.signals, *triage.details]}
