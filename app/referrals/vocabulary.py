"""Words for referrals: practice areas, steps, and reasons, for staff and for reporters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

PRACTICE_AREAS = {
    "employment": "Employment and wages",
    "sexual_violence": "Sexual harassment and assault",
    "trafficking": "Trafficking and forced labor",
    "immigration": "Immigration",
    "licensing": "Professional licensing",
    "civil_rights": "Civil rights and discrimination",
    "criminal": "Criminal law (victims' rights)",
    "housing": "Housing",
}

# Each step of a referral, and who may take it. "revoked" also happens on its own when the
# reporter withdraws consent.
STEPS = {
    "draft": ("sent", "revoked"),
    "sent": ("acknowledged", "revoked"),
    "acknowledged": ("accepted", "declined", "revoked"),
    "accepted": ("closed", "revoked"),
    "declined": ("closed",),
    "closed": (),
    "revoked": (),
}
# A referral counsel can still open: the packet exists and consent stands.
OPEN_TO_COUNSEL = ("sent", "acknowledged", "accepted")
# Not yet over: withdrawing consent revokes these.
ACTIVE = ("draft", "sent", "acknowledged", "accepted")

STATUS_NAMES = {
    "draft": "Draft",
    "sent": "Sent",
    "acknowledged": "Received by counsel",
    "accepted": "Accepted",
    "declined": "Declined",
    "closed": "Closed",
    "revoked": "Revoked",
}

# What the reporter reads at /status, in plain words. Drafts are not shown to them.
FOR_REPORTER = {
    "sent": _l("We sent your report to a lawyer at %(firm)s on %(date)s, as you agreed."),
    "acknowledged": _l("The lawyer at %(firm)s has received your report."),
    "accepted": _l("The lawyer at %(firm)s agreed to help. They or we will contact you only in the ways you chose."),
    "declined": _l(
        "The lawyer at %(firm)s could not take this on. A coordinator will talk with you about other options."
    ),
    "closed": _l("The referral to %(firm)s is finished."),
    "revoked": _l("The referral to %(firm)s was withdrawn. The lawyer can no longer open your report."),
}

DECLINE_REASONS = {
    "conflict": "Conflict of interest",
    "outside_practice": "Outside our practice areas",
    "capacity": "No capacity at present",
    "jurisdiction": "Outside our jurisdiction",
    "language": "We cannot work in the reporter's language",
    "other": "Another reason (we will tell the coordinator)",
}

REVOKE_REASONS = {
    "consent_withdrawn": "The reporter withdrew consent",
    "identity_withdrawn": "The reporter withdrew consent to share their identity",
    "coordinator": "Withdrawn by a coordinator",
    "counsel_removed": "The counsel's account was deactivated",
    "report_deleted": "The reporter deleted their report",
    "retention": "The report reached the end of its retention period and was deleted",
}
