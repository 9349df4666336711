"""Receipt codes: the only key a reporter holds to their case.

Twenty decimal digits (66 bits), shown as five groups of four. Digits are on every phone
keyboard in every language, and reading them aloud or copying them by hand is easy.
Entry forgives what phone keyboards type in other scripts: full-width digits and
punctuation (a Chinese or Japanese keyboard in full-width mode), ideographic spaces, every
kind of dash and dot, and the decimal digits of any script (Arabic-Indic, Devanagari...).
"""

from __future__ import annotations

import unicodedata

from flask_babel import gettext as _

from app.crypto import Keyring, blind_index

DIGITS = 20
GROUP = 4
INDEX_PURPOSE = "receipt"
SUBMISSION_RECEIPT_PURPOSE = "receipt-of-submission"
# Between the groups, after compatibility folding (full-width forms become ASCII): spaces,
# hyphens and dashes of every kind, the katakana long mark that Japanese and Chinese
# keyboards give for a dash, dots, commas and slashes.
SEPARATORS = frozenset(" -_.·・ー―‐‑‒–—−〜~/,、。")


class ReceiptCode(str):
    """A normalised receipt: exactly twenty ASCII digits."""

    @classmethod
    def for_submission(cls, ring: Keyring, token: str) -> ReceiptCode:
        """The receipt of the report filed with submission token ``token``: a keyed function of
        the token, so a form sent twice is shown the same receipt twice. Only the server can
        make it (the key comes from the keyring), and the token is random for every form."""
        digest = blind_index(ring, SUBMISSION_RECEIPT_PURPOSE, token)
        return cls(f"{int.from_bytes(digest, 'big') % 10**DIGITS:0{DIGITS}d}")

    @classmethod
    def parse(cls, typed: str) -> ReceiptCode | None:
        """The receipt in ``typed``, or None if it cannot be one."""
        digits = digits_in(typed)
        if digits is None or len(digits) != DIGITS:
            return None
        return cls(digits)

    def display(self) -> str:
        return "-".join(self[i : i + GROUP] for i in range(0, DIGITS, GROUP))

    def keyed_index(self, ring: Keyring, version: str | None = None) -> bytes:
        """The receipt's keyed index under root version ``version`` (None: the active one)."""
        return blind_index(ring, INDEX_PURPOSE, str(self), version=version)


def digits_in(typed: str) -> str | None:
    """The digits of ``typed`` as ASCII, separators left out; None if it holds anything else."""
    digits = []
    for ch in unicodedata.normalize("NFKC", typed[:200]):
        if ch.isspace() or ch in SEPARATORS:
            continue
        value = unicodedata.decimal(ch, None)
        if value is None:
            return None
        digits.append(str(value))
    return "".join(digits)


def receipt_problem(typed: str) -> str:
    """Why a typed receipt opened nothing: it cannot be one, or it is one we do not know."""
    digits = digits_in(typed)
    if digits is None:
        return _("A receipt has only digits (and spaces or dashes between them). Check what you typed.")
    if len(digits) != DIGITS:
        return _(
            "A receipt has %(expected)d digits, and we read %(count)d. Check for a missing or extra digit.",
            expected=DIGITS,
            count=len(digits),
        )
    return _("We could not find a report with that receipt. Check the digits and try again.")
