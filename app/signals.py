"""Things that happen, announced for whoever listens (the audit log does).

Every signal is sent with ``actor`` (a staff id, or "" for the reporter or the system),
``role`` (a staff role, "reporter" or "system"), ``case_id`` (or None) and keyword
details that are never content: ids, codes, counts. Send them after the commit.
Many events of one kind at once (a routing batch) go as one signal with ``events``, a list
of (case_id, detail): :func:`announce_each`; listeners then take ``events`` too.

| signal | when |
|---|---|
| case_viewed | a case was decrypted and shown |
| case_acknowledged | a responder acknowledged a case |
| case_assigned | a case was claimed, assigned or reassigned |
| case_unassigned | a case left its responder (detail: previous, reason) |
| case_routed | a routing round began (announce_each; detail: round, outcome, staff, reason, notified) |
| case_escalated | a round's deadline passed unacknowledged (detail: round, staff, notified) |
| case_status_changed | status moved (detail: old, new, reason) |
| case_flagged | the "important" flag changed |
| note_added | an internal note was added |
| message_sent | a message went to or came from the reporter |
| consent_changed | the reporter changed consent choices |
| receipt_shown_again | a form sent twice was shown its receipt again (intake.services) |
| case_became_report | a support request became an incident report (detail: level_before, level, notified) |
| access_denied | someone asked for a case that is not theirs |
| staff_invited | an enrolment link was made |
| staff_enrolled | an invited person set password and TOTP |
| staff_login | a login succeeded |
| staff_login_failed | a password or code was wrong |
| staff_logout | a staff member signed out |
| staff_reauthenticated | a fresh password and code before a sensitive action |
| staff_deactivated | an account was deactivated and its sessions ended |
| staff_profile_changed | profile, duty or training records changed (detail: fields, by name only) |
| staff_break_started | someone stepped off duty for a break (detail: staff, until: return time, UTC, or None) |
| staff_break_ended | a break ended, its person on duty again (detail: staff, how: "time" or "by_hand") |
| staff_break_return_cancelled | duty saved off in a break: no return to duty (detail: staff, until: return time) |
| staff_reset | a coordinator or the operator reset a sign-in: credentials cleared, a new enrolment link |
| staff_reactivated | a deactivated account was opened again (detail: link, whether a new enrolment link was made) |
| staff_recovery_codes_issued | new recovery codes replaced the old ones |
| staff_unlocked | a coordinator cleared the sign-in back-off of an account |
| staff_password_changed | a staff member changed their own password |
| staff_totp_changed | a staff member moved their sign-in codes to a new authenticator app |
| export_made | anything left the system in bulk |
| counsel_profile_changed | a counsel's firm, practice areas, languages or age key changed |
| referral_created | a coordinator began a referral (detail: referral, counsel) |
| referral_status_changed | a referral moved (detail: referral, old, new, reason) |
| packet_downloaded | a referral packet was downloaded (detail: referral) |
| packet_exported | a referral's packet went into a bulk export (detail: referral) |
| paging_changed | a coordinator set, removed or tested their paging address (detail: change, ok) |
| case_paged | an urgent notice was paged (detail: staff, ok, error; fallback: who was paged next) |
| case_searched | staff searched for a case (detail: kind reference or receipt, found; never what was typed) |
| audit_viewed | a coordinator opened the audit log (detail: the filters, as codes and ids) |
| audit_verified | a coordinator ran the audit chain check (detail: intact, checked, broken_at) |
| rights_article_created | counsel, a coordinator or the seed began a library article (detail: article, slug) |
| rights_version_drafted | a new version was saved as a draft (detail: article, version, language, number) |
| rights_version_published | a coordinator or the seed published a version (detail: as drafted; replaced: numbers) |
| rights_version_withdrawn | a coordinator took a published version off the public pages (detail: as drafted) |
| rights_matches_changed | a coordinator changed which reports an article is linked after (detail: article, matches) |
| circle_published | a coordinator published a peer circle (detail: circle, facilitator) |
| circle_changed | a coordinator changed a circle (detail: circle, fields: their names only) |
| circle_cancelled | a coordinator cancelled a circle (detail: circle) |
| circle_requested | someone asked for a circle's place or link (detail: circle, waiting) |
| circle_left | someone gave up their place in a circle, with their code (detail: circle) |
| circle_viewed | a facilitator opened the names people chose for their circle (detail: circle) |
| key_rotated | the operator made a new KEK active (detail: key, replaced, waiting: case keys to re-wrap) |
| key_retired | the operator removed a superseded KEK that wrapped nothing any more (detail: key) |
| case_shredded | a case was crypto-shredded (detail: reason; counts of messages, notes, referrals_revoked) |
| case_hold_set | a coordinator put a legal hold on a case (detail: reason, a code) |
| case_hold_released | a coordinator released a case's legal hold (detail: reason it had) |
| retention_digest_sent | the coordinators' weekly list of cases to be shredded went out (detail: cases, a count) |
| backup_created | the operator made an encrypted backup (detail: database, cases, bytes, recipients) |
| backup_restored | a backup was restored and verified (detail: made, cases, shredded_again, sampled) |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blinker import Namespace

_signals = Namespace()

NAMES = (
    "case_viewed",
    "case_acknowledged",
    "case_assigned",
    "case_unassigned",
    "case_routed",
    "case_escalated",
    "case_status_changed",
    "case_flagged",
    "note_added",
    "message_sent",
    "consent_changed",
    "receipt_shown_again",
    "case_became_report",
    "access_denied",
    "staff_invited",
    "staff_enrolled",
    "staff_login",
    "staff_login_failed",
    "staff_logout",
    "staff_reauthenticated",
    "staff_deactivated",
    "staff_profile_changed",
    "staff_break_started",
    "staff_break_ended",
    "staff_break_return_cancelled",
    "staff_reset",
    "staff_reactivated",
    "staff_recovery_codes_issued",
    "staff_unlocked",
    "staff_password_changed",
    "staff_totp_changed",
    "export_made",
    "counsel_profile_changed",
    "referral_created",
    "referral_status_changed",
    "packet_downloaded",
    "packet_exported",
    "paging_changed",
    "case_paged",
    "case_searched",
    "audit_viewed",
    "audit_verified",
    "rights_article_created",
    "rights_version_drafted",
    "rights_version_published",
    "rights_version_withdrawn",
    "rights_matches_changed",
    "circle_published",
    "circle_changed",
    "circle_cancelled",
    "circle_requested",
    "circle_left",
    "circle_viewed",
    "key_rotated",
    "key_retired",
    "case_shredded",
    "case_hold_set",
    "case_hold_released",
    "retention_digest_sent",
    "backup_created",
    "backup_restored",
)

SIGNALS = {name: _signals.signal(name) for name in NAMES}


def announce(name: str, *, actor: str, role: str, case_id: str | None = None, **detail: Any) -> None:
    """Send signal ``name``. Unknown names are a programming error."""
    SIGNALS[name].send(name, actor=actor, role=role, case_id=case_id, detail=detail)


def announce_each(name: str, *, actor: str, role: str, events: Sequence[tuple[str | None, dict[str, Any]]]) -> None:
    """Send signal ``name`` once for many events, each a case id and its details; the audit
    log writes them together, one entry each. Every receiver of a signal sent this way takes
    ``events`` (its ``case_id`` is None and its ``detail`` empty)."""
    if events:
        SIGNALS[name].send(name, actor=actor, role=role, case_id=None, detail={}, events=list(events))
