"""The referral packet's PDF: what counsel reads, rendered from the packet's JSON document.
See app/typeset.py for fonts, line breaking and the writer."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from babel import Locale

from app.pdf import typeset
from app.pdf.typeset import GREY, LABEL, LEFT, REPLACEMENT, RIGHT, FontMissing, Writer, start

__all__ = ["FontMissing", "preload_fonts", "render_packet_pdf"]

LEVELS = {0: "L0 (imminent danger)", 1: "L1", 2: "L2", 3: "L3 (no time pressure)"}
PURPOSES = {
    "peer_support": "Peer support: a peer responder may read the report and reply",
    "legal_referral": "Referral of the report to legal counsel",
    "identity_to_counsel": "Counsel may see the reporter's name and contact details",
    "contact_phone": "Contact by phone call",
    "contact_email": "Contact by email",
    "contact_text": "Contact by text message",
}
QUESTIONS = (
    ("perpetrator", "Who did this"),
    ("setting", "Where it happened"),
    ("when", "When it happened"),
    ("danger_now", "In danger now"),
    ("injured", "Injured"),
    ("ongoing", "Still happening"),
    ("wants", "What the reporter wants"),
)
CONTACT_WAYS = {"phone": "Phone call", "email": "Email", "text": "Text message"}
CONSENT_COLUMNS = ((LEFT, 270.0), (LEFT + 280, 82.0), (LEFT + 372, 132.0))


def _moment(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _when(value: Any) -> str:
    parsed = _moment(value)
    return parsed.strftime("%Y-%m-%d %H:%M UTC") if parsed else str(value or "")


def preload_fonts(cjk: tuple[int, ...] = (2,)) -> None:
    """Read the fonts (``cjk``: the Noto Sans CJK faces, see app.pdf.fonts.cjk_number) and the
    English names of languages now, so that no packet waits for them (some 100 ms in all, the
    font cache once built): call it before a worker forks, or in a new process that renders."""
    typeset.preload_fonts(cjk)
    _language("en")


@cache
def _language(tag: str) -> str:
    try:
        name = Locale.parse(tag.replace("-", "_")).get_display_name("en")
    except (ValueError, TypeError, LookupError):
        return tag
    return f"{name} ({tag})" if name else tag


def render_packet_pdf(document: dict[str, Any]) -> bytes:
    """The packet's PDF (US Letter) for counsel, from its JSON document (packet-v1 schema).

    Any string in the document may come from the reporter: what no font can show becomes
    U+FFFD (some emoji, say) or is dropped (control and format characters). The first call in
    a process reads the fonts (see preload_fonts); later ones take about 10-15 ms for a typical
    packet, a few ms more with Chinese, Japanese or Korean text (app/pdf/fonts.py says why).
    """
    # The packet's own time, not the clock: the same document always gives the same bytes.
    created = _moment(document["generated_at"]) or datetime(2000, 1, 1, tzinfo=UTC)
    out = start(
        "Referral packet",
        f"Confidential · Referral {document['referral']['id']}",
        created=created,
        language=str(document["case"]["language"] or ""),
    )
    for section in (_front, _referral, _case, _scope, _report, _reporter, _timeline):
        section(out, document)
    if out.replaced:
        out.y += 10
        out.block(
            f"{REPLACEMENT} marks a character this PDF cannot show; packet.json has the text exactly as written.",
            size=9,
            color=GREY,
        )
    return out.finish()


def _front(out: Writer, document: dict[str, Any]) -> None:
    out.block("Confidential referral packet", size=18, bold=True, leading=1.3)
    generated = _when(document["generated_at"])
    out.block(f"Referral {document['referral']['id']} · generated {generated}", size=9, color=GREY)
    out.y += 8
    out.notice("Read this first", document["confidentiality"])


def _referral(out: Writer, document: dict[str, Any]) -> None:
    referral = document["referral"]
    counsel = referral["counsel"]
    out.heading("Referral")
    for label, value in (
        ("Referral ID", referral["id"]),
        ("Program", referral["program"]),
        ("Referred by", referral["referred_by"]),
        ("Counsel", counsel["name"]),
        ("Firm", counsel["firm"]),
        ("Counsel's email", counsel["email"]),
        ("Sent", _when(referral["sent_at"])),
    ):
        out.field(label, value)


def _case(out: Writer, document: dict[str, Any]) -> None:
    case = document["case"]
    out.heading("Case")
    for label, value in (
        ("Case reference", case["reference"]),
        ("Received", _when(case["received_at"])),
        ("Category", f"{case['category_label']} ({case['category']})"),
        ("Triage level at intake", LEVELS.get(case["level"], case["level"])),
        ("Reporter's language", _language(str(case["language"] or ""))),
        ("County", case["county"]),
    ):
        out.field(label, value)


def _scope(out: Writer, document: dict[str, Any]) -> None:
    out.heading("What the reporter agreed to share")
    if document["reporter"] is not None:
        out.block(
            "Identity disclosed: the reporter agreed that counsel may see their name and contact details (below).",
            bold=True,
        )
    else:
        out.block(
            "Identity withheld at the reporter's request. Their name and contact details are not in this packet.",
            bold=True,
        )
        count = document["scope"].get("redactions", 0)
        if count:
            mentions = "1 mention" if count == 1 else f"{count} mentions"
            out.block(f"In the report, {mentions} of their name or contact details replaced by [withheld].")
    out.y += 4
    titles = ("Choice", "Decision", "Recorded")
    out.row(*((title, x, width, True, GREY) for title, (x, width) in zip(titles, CONSENT_COLUMNS, strict=True)))
    for choice in document["scope"]["consent"]:
        texts = (
            PURPOSES.get(choice["purpose"], choice["purpose"]),
            "Granted" if choice["granted"] else "Not granted",
            _when(choice["recorded_at"]),
        )
        out.row(*((text, x, width, False, 0) for text, (x, width) in zip(texts, CONSENT_COLUMNS, strict=True)))
    if not document["scope"]["consent"]:
        out.block("No consent choices were recorded.", color=GREY)


def _report(out: Writer, document: dict[str, Any]) -> None:
    report = document["report"]
    out.heading("The report")
    out.block("What happened, in the reporter's words", color=GREY)
    out.y += 2
    narrative = report["narrative"]
    out.block(narrative or "Not answered", size=10, color=0 if narrative else GREY, leading=1.45)
    out.y += 8
    for key, label in QUESTIONS:
        value = report[key]
        out.field(label, "\n".join(f"• {v}" for v in value) if isinstance(value, list) else value)


def _reporter(out: Writer, document: dict[str, Any]) -> None:
    reporter = document["reporter"]
    if reporter is None:
        return
    out.heading("Reporter identity")
    ways = ", ".join(CONTACT_WAYS.get(way, way) for way in reporter["contact_by"])
    for label, value in (
        ("Name", reporter["name"]),
        ("Email", reporter["email"]),
        ("Phone", reporter["phone"]),
        ("Safe times to contact", reporter["safe_times"]),
        ("Voicemail", reporter["voicemail_ok"]),
        ("Agreed ways of contact", ways or "None: do not contact the reporter directly"),
    ):
        out.field(label, value)
    out.block(
        "Contact the reporter only in the agreed ways, and agree the approach with the program first.",
        size=9,
        color=GREY,
    )


def _timeline(out: Writer, document: dict[str, Any]) -> None:
    out.heading("Timeline")
    for entry in document["timeline"]:
        out.row(
            (_when(entry["at"]), LEFT, LABEL - 8, False, GREY),
            (entry["event"], LEFT + LABEL, RIGHT - LEFT - LABEL, False, 0),
        )
    if not document["timeline"]:
        out.block("Nothing recorded.", color=GREY)
