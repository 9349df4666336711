"""The reporter's consent choices changed through her receipt: recorded, and what a withdrawal
asks done at once, in one transaction; announced after it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.cases.consent import current_consent, record_consent
from app.referrals.services import Pending, announce_pending, revoke_for_consent
from app.signals import announce
from app.triage.routing import withdraw_from_responder

log = logging.getLogger("confide.intake")


@dataclass(frozen=True)
class ConsentChange:
    """What the reporter's new choices changed, in the transaction that recorded them."""

    changed: list[str]
    # What the withdrawal revoked, announced after the commit (app.referrals.services.Pending).
    revoked: Pending
    # The responder who had the case and no longer may read it.
    responder: str | None


def apply_consent(case_id: str, choices: dict[str, bool]) -> ConsentChange:
    """Record the reporter's new choices, in the caller's transaction, and do what a withdrawal
    asks at once. Announce it with :func:`announce_consent` after the commit."""
    changed = record_consent(case_id, choices, source="status")
    # What a withdrawal covered is revoked in the same transaction that records it.
    withdrawn = [p for p in changed if not choices[p]]
    revoked = revoke_for_consent(case_id, current_consent(case_id), withdrawn) if withdrawn else []
    # No peer responder reads on: the report, what was added and the conversation go with the
    # case to the coordinators, and the responder's access ends.
    responder = withdraw_from_responder(case_id) if "peer_support" in withdrawn else None
    return ConsentChange(changed, revoked, responder)


def announce_consent(case_id: str, change: ConsentChange) -> None:
    if change.changed:
        log.info("case %s: consent changed for %s", case_id, ", ".join(change.changed))
        announce("consent_changed", actor="", role="reporter", case_id=case_id, purposes=change.changed)
        announce_pending(change.revoked)
    if change.responder:
        announce(
            "case_unassigned",
            actor="",
            role="reporter",
            case_id=case_id,
            previous=change.responder,
            reason="peer_support_withdrawn",
        )
