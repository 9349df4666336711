"""Authenticator codes for tests, on a clock the tests may move on.

A code is accepted once, and only from the step before, the step of and the step after the
server's clock: an account signing in three times within a minute would wait half a minute
for a fresh code, as a person would. Tests move this clock on instead of waiting; the app's
TOTP check reads the same clock (the ``totp_clock`` fixture in tests/conftest.py), and only
that check."""

from __future__ import annotations

import time

import pyotp

from app.staff.credentials import TOTP_STEP


class _Clock:
    offset = 0.0


CLOCK = _Clock()


def now() -> float:
    """The time the server's TOTP check reads."""
    return time.time() + CLOCK.offset


def step_now() -> int:
    return int(now() // TOTP_STEP)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).at(step * TOTP_STEP)


def unused_code(secret: str, last_step: int) -> str:
    """A code of ``secret`` later than ``last_step`` (the account's last accepted step),
    moving the clock on a step when both of this window's are spent.

    Never the previous step: the clock may cross into the next one before the server checks."""
    current = step_now()
    step = max(current, last_step + 1)
    if step > current + 1:
        CLOCK.offset += TOTP_STEP
        return unused_code(secret, last_step)
    return code_at(secret, step)
