"""The real SMTP server fixture (tests/smtp.py) for the tests here."""

from tests.smtp import smtp

__all__ = ["smtp"]
