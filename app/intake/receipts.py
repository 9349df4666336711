"""Receipt codes: the only key a reporter holds to their case.

Twenty decimal digits (66 bits), shown as five groups of four. Digits are on every phone
keyboard in every language, and reading them aloud or copying them by hand is easy.
Entry forgives spaces, dashes and non-Latin digits (e.g. Arabic-Indic or full-width).
"""

from __future__ import annotations

import secrets
import unicodedata

from app.crypto import Keyring, blind_index

DIGITS = 20
GROUP = 4
INDEX_PURPOSE = "receipt"


class ReceiptCode(str):
    """A normalised receipt: exactly twenty ASCII digits."""

    @classmethod
    def generate(cls) -> ReceiptCode:
        return cls(f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}")

    @classmethod
    def parse(cls, typed: str) -> ReceiptCode | None:
        """The receipt in ``typed``, or None if it cannot be one."""
        digits = []
        for ch in typed[:200]:
            if ch.isspace() or ch in "-_.·\u2010\u2011\u2012\u2013\u2014\u2212":
                continue
            value = unicodedata.digit(ch, None)
            if value is None:
                return None
            digits.append(str(value))
        if len(digits) != DIGITS:
            return None
        return cls("".join(digits))

    def display(self) -> str:
        return "-".join(self[i : i + GROUP] for i in range(0, DIGITS, GROUP))

    def index(self, ring: Keyring) -> bytes:
        return blind_index(ring, INDEX_PURPOSE, str(self))
