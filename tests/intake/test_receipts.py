"""Receipts: enough entropy, and forgiving of how people type them."""

from __future__ import annotations

import math

from app.intake.receipts import DIGITS, ReceiptCode


def test_receipts_carry_at_least_64_bits() -> None:
    assert DIGITS * math.log2(10) >= 64
    codes = {ReceiptCode.generate() for _ in range(2000)}
    assert len(codes) == 2000
    # Leading zeros are kept: every code is exactly twenty digits.
    assert all(len(code) == DIGITS and code.isascii() and code.isdigit() for code in codes)


def test_display_groups_and_parses_back() -> None:
    code = ReceiptCode.generate()
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
