"""Configuration: every field documented, typos refused, environment wins."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from app.config import EXAMPLE_PATH, ConfigError, Settings, load_settings


def test_example_documents_every_setting() -> None:
    example = tomllib.loads(EXAMPLE_PATH.read_text())
    assert set(example) == {f.name for f in dataclasses.fields(Settings)}
    settings = load_settings()
    assert settings.env == "development" and settings.languages == ("en", "es", "zh-Hans", "ko", "pt-BR")
    assert settings.triage.ack_hours == (1, 4, 24, 72)
    assert any(contact.value == "888-568-8332" for r in settings.resources for contact in r.contacts)


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "confide.toml"
    config.write_text('database_url = "sqlite:///from-file.db"\n[triage]\nfeedback_days = 14\n')
    monkeypatch.setenv("CONFIDE_CONFIG", str(config))
    settings = load_settings()
    assert settings.database_url == "sqlite:///from-file.db"
    assert settings.triage.feedback_days == 14
    assert settings.triage.ack_hours == (1, 4, 24, 72), "tables merge with the defaults"
    monkeypatch.setenv("CONFIDE_DATABASE_URL", "postgresql+psycopg://db/confide")
    monkeypatch.setenv("CONFIDE_SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("CONFIDE_SECURE_COOKIES", "true")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://db/confide"
    assert settings.session_idle_minutes == 15 and settings.secure_cookies is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("databse_url = 'x'", "unknown setting databse_url"),
        ("[triage]\nack_hour = [1, 2, 3, 4]", "unknown setting triage.ack_hour"),
        ("session_idle_minutes = 'soon'", "session_idle_minutes must be a whole number"),
        ("[triage]\nack_hours = [1, 2]", "triage.ack_hours must have 4 items"),
        ("[triage]\nroute_batch = 0", "triage.route_batch must be at least 1"),
        ("env = 'staging'", "env must be one of"),
        ("languages = ['es']", "languages must include en"),
        ("secure_cookies = 'maybe'", "secure_cookies must be true or false"),
        ("this is not toml", "config file"),
        ("[[resources]]\nname = 'Help'\nabout = { en = 'x' }", "none has the topic danger"),
        ("[[resources]]\nname = 'Help'\nabout = { en = 'x' }\ntopics = ['fire']", "unknown topic 'fire'"),
        ("[rate_limits]\nreport_all = 3", "rate_limits.report_all must be text"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.env = "production"  # type: ignore[misc]


def test_periodic_intervals_must_be_at_least_a_minute() -> None:

    for overrides in ({"audit_checkpoint_minutes": 0}, {"mail": {"digest_minutes": 0}}):
        with pytest.raises(ConfigError, match="at least 1"):
            load_settings(overrides=overrides)
