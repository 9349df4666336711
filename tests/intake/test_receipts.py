"""Receipts: enough entropy, and forgiving of how people type them."""

from __future__ import annotations

import math
import secrets
from pathlib import Path

from app.crypto import create_keyring
from app.intake.receipts import DIGITS, ReceiptCode


def test_receipts_carry_at_least_64_bits(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path)
    assert DIGITS * math.log2(10) >= 64
    tokens = [secrets.token_urlsafe(24) for _ in range(2000)]
    codes = {ReceiptCode.for_submission(ring, token) for token in tokens}
    assert len(codes) == 2000
    # Leading zeros are kept: every code is exactly twenty digits.
    assert all(len(code) == DIGITS and code.isascii() and code.isdigit() for code in codes)


def test_a_form_sent_twice_has_one_receipt_that_only_the_server_can_make(tmp_path: Path) -> None:
    ring, other = create_keyring(tmp_path / "ours"), create_keyring(tmp_path / "theirs")
    token = secrets.token_urlsafe(24)
    assert ReceiptCode.for_submission(ring, token) == ReceiptCode.for_submission(ring, token)
    assert ReceiptCode.for_submission(ring, token) != ReceiptCode.for_submission(other, token)


def test_display_groups_and_parses_back(tmp_path: Path) -> None:
    code = ReceiptCode.for_submission(create_keyring(tmp_path), "a form's token")
    shown = code.display()
    assert len(shown.split("-")) == 5
    assert ReceiptCode.parse(shown) == code
    assert ReceiptCode.parse(shown.replace("-", " ")) == code
    assert ReceiptCode.parse(f"  {shown.replace('-', '')}  ") == code


def test_digits_from_other_keyboards_are_accepted() -> None:
    assert (
        ReceiptCode.parse("１２３４－５６７８ ９０１２ ３４５６ ７８９０".replace("－", "-")) == "12345678901234567890"
    )
    assert ReceiptCode.parse("٠١٢٣ ٤٥٦٧ ٨٩٠١ ٢٣٤٥ ٦٧٨٩") == "01234567890123456789"
    assert ReceiptCode.parse("۱۲۳۴-۵۶۷۸-۹۰۱۲-۳۴۵۶-۷۸۹۰") == "12345678901234567890"


def test_wrong_length_or_letters_are_not_receipts() -> None:
    assert ReceiptCode.parse("1234-5678") is None
    assert ReceiptCode.parse("1234-5678-9012-3456-78901") is None
    assert ReceiptCode.parse("1234-5678-9012-3456-789O") is None
    assert ReceiptCode.parse("") is None
    assert ReceiptCode.parse("1" * 10_000) is None
