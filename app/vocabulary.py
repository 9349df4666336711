"""The fixed vocabularies of a case, with labels marked for translation.

Codes are stored; labels are shown. Categories follow GBVIMS, with context (who did it,
where) kept separately.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CATEGORIES = {
    "rape": _l("Rape or attempted rape"),
    "sexual_assault": _l("Other sexual assault or unwanted sexual contact"),
    "sexual_harassment": _l("Sexual harassment without contact (comments, exposure, requests)"),
    "physical_assault": _l("Physical assault"),
    "threats": _l("Threats, stalking or psychological abuse"),
    "exploitation": _l("Exploitation or coercion (wages, debt, documents, housing, forced services)"),
    "practitioner_violation": _l("A practitioner crossed a boundary with a client"),
    "other": _l("Something else"),
}

# What a case is: an incident report, or a support request ("I'd like to talk with someone",
# app/intake/support.py). A support request is no incident: it has no category of its own
# choosing, and is stored with this code in the category's place (which routing reads: any
# current training qualifies a responder for it, app/triage/eligibility.py).
SUPPORT = "support"
REPORT = "report"
KINDS = {REPORT: "Incident report", SUPPORT: "Support request"}  # staff pages
# What a case is about, as pages name it: its category, or a support request.
CASE_LABELS = {**CATEGORIES, SUPPORT: _l("Support request")}

PERPETRATORS = {
    "client": _l("A client"),
    "employer": _l("An employer or manager"),
    "coworker": _l("A coworker"),
    "therapist": _l("Another therapist"),
    "self": _l("I did (I want help with my own actions)"),
    "other": _l("Someone else"),
}

SETTINGS = {
    "clinic": _l("A clinic or spa"),
    "franchise": _l("A franchise location"),
    "outcall": _l("An outcall or home visit"),
    "hotel": _l("A hotel"),
    "own_practice": _l("My own practice"),
    "other": _l("Somewhere else"),
}

WHEN = {
    "72h": _l("In the last 3 days"),
    "week": _l("In the last week"),
    "month": _l("In the last month"),
    "year": _l("In the last year"),
    "older": _l("More than a year ago"),
    "unsure": _l("I'm not sure"),
}

COUNTIES = {
    "fairfield": "Fairfield",
    "hartford": "Hartford",
    "litchfield": "Litchfield",
    "middlesex": "Middlesex",
    "new_haven": "New Haven",
    "new_london": "New London",
    "tolland": "Tolland",
    "windham": "Windham",
    "outside": _l("Outside Connecticut"),
}

YES_NO_UNSURE = {"yes": _l("Yes"), "no": _l("No"), "unsure": _l("I'm not sure")}

WANTS = {
    "peer": _l("Talk with a trained peer responder"),
    "legal": _l("A consultation with a lawyer"),
    "licensing": _l("Help with a complaint to the licensing board"),
    "record_only": _l("Just record it for now"),
}

STATUSES = {
    "new": _l("Received. A trained peer responder will read it soon."),
    "acknowledged": _l("A peer responder has read your report."),
    "in_progress": _l("A peer responder is working on your report."),
    "referred": _l("Your report was referred to legal counsel, as you agreed."),
    "closed": _l("This case is closed. You can still write to us here."),
    "reopened": _l("Your case was reopened. A peer responder is working on it."),
}

# The same, for a support request: what differs is what she sent.
SUPPORT_STATUSES = {
    **STATUSES,
    "acknowledged": _l("A peer responder has read your request."),
    "in_progress": _l("A peer responder is working on your request."),
    "referred": _l("Your request was referred to legal counsel, as you agreed."),
}

# For staff: short names of the statuses, and why a case was closed.
STATUS_NAMES = {
    "new": "New",
    "acknowledged": "Acknowledged",
    "in_progress": "In progress",
    "referred": "Referred",
    "closed": "Closed",
    "reopened": "Reopened",
}
QUEUE_RANK = {"new": 0, "acknowledged": 1, "in_progress": 1, "reopened": 1, "referred": 2, "closed": 3}
# Which status may follow which. "new" leaves only by acknowledging the case.
TRANSITIONS = {
    "new": ("acknowledged", "closed"),
    "acknowledged": ("in_progress", "referred", "closed"),
    "in_progress": ("referred", "closed"),
    "referred": ("in_progress", "closed"),
    "closed": ("reopened",),
    "reopened": ("in_progress", "referred", "closed"),
}
CLOSE_REASONS = {
    "resolved": "Resolved with the reporter",
    "reporter_withdrew": "The reporter asked to stop",
    "no_response": "No response from the reporter",
    "referred_elsewhere": "Referred to another service",
    "duplicate": "Duplicate of another case",
    "record_only": "Recorded as the reporter asked",
}

LEVELS = ("L0", "L1", "L2", "L3")

# What would have turned a report away, overruled because it signals imminent danger (a report
# in danger is never refused). Kept with the case's signals, so coordinators can tell a real
# report from abuse: "Filed ..., although <reason>."
FILED_DESPITE = {
    "over_limit": "more reports than the limits allow came from its connection, or from everyone",
    "form_expired": "its form had expired, or was not sent from this site",
    "form_errors": "some answers were not valid (they were dropped, or kept as typed)",
    "resent": "its form had been filed before, and came again changed or signalling danger (both were kept)",
}
