"""What a report says. Only ever held in memory; stored sealed (see app/cases/sealing.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportContent:
    """Everything in a report except contact details. Sealed as one value.

    Empty strings mean "not answered"."""

    narrative: str = ""
    perpetrator: str = ""
    setting: str = ""
    when: str = ""
    danger_now: str = ""
    injured: str = ""
    ongoing: str = ""
    wants: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContactDetails:
    """How a named reporter may be reached. Sealed apart from the report, so it can be withheld."""

    name: str = ""
    email: str = ""
    phone: str = ""
    safe_times: str = ""
    voicemail_ok: str = ""
    code_word: str = ""
