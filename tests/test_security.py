"""Deny by default, strict headers, CSRF, rate limits, and no start without keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import func, select

from app import ROOT, create_app
from app.access import ALL_ROLES, view_roles
from app.cases.models import Case
from app.config import ConfigError, redis_warnings
from app.crypto import KeyringError
from app.extensions import db
from app.security import CSP
from tests.conftest import BrowserLikeClient, settings_for
from tests.helpers import hidden_fields, is_checked, open_status, receipt_from, report_answers, submit_report

REPORTER_PAGES = ["/", "/report", "/resources", "/status"]


@pytest.fixture
def bare_app(tmp_path: Path, keys_dir: Path, log_file: Path) -> Iterator[Flask]:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'bare.db'}", keys_dir, log_file))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_every_route_states_who_may_use_it(bare_app: Flask) -> None:
    for rule in bare_app.url_map.iter_rules():
        roles = view_roles(bare_app, rule.endpoint)
        assert roles, f"{rule.rule} ({rule.endpoint}) does not state who may use it"
        assert roles <= set(ALL_ROLES)


def test_a_route_that_states_nothing_is_closed(bare_app: Flask) -> None:
    bare_app.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    response = bare_app.test_client().get("/forgotten")
    assert response.status_code == 404
    assert "secret" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", REPORTER_PAGES)
def test_reporter_pages_send_strict_headers(bare_app: Flask, path: str) -> None:
    response = bare_app.test_client().get(path)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP
    assert "unsafe-inline" not in CSP and "default-src 'none'" in CSP
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    body = response.get_data(as_text=True)
    assert 'id="quick-exit"' in body
    assert "<script" not in body


def test_templates_have_no_inline_code_or_third_party_assets() -> None:
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for script in re.findall(r"<script[^>]*>", text):
            assert "src=\"{{ url_for('static'" in script, f"inline script in {template}"
        if template.parent.name in ("intake", "errors") or template.name == "base.html":
            assert "<script" not in text, f"reporter pages work without JavaScript: {template}"
        assert not re.search(r"\sstyle=", text), f"inline style in {template}"
        assert not re.search(r"\son[a-z]+=", text), f"inline handler in {template}"
        assert not re.search(r'(src|href)="(https?:)?//', text), f"third-party asset in {template}"


def test_form_without_csrf_token_files_nothing_and_keeps_the_text(client: FlaskClient) -> None:
    client.get("/report")
    forged = client.post("/report", data=report_answers(narrative="Written over an hour, don't lose me"))
    body = forged.get_data(as_text=True)
    assert forged.status_code == 400
    assert "Written over an hour, don&#39;t lose me" in body
    assert "page expired before it was sent" in body
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0
    # The re-rendered form carries a fresh token, so sending it again works.
    again = client.post("/report", data={**hidden_fields(body), **report_answers(narrative="again")})
    assert again.status_code == 200
    receipt_from(again)


def test_forged_consent_change_is_refused(client: FlaskClient) -> None:
    receipt = receipt_from(submit_report(client, legal_referral="y"))
    open_status(client, receipt)
    response = client.post("/status/consent", data={"csrf_token": "forged", "peer_support": "y"})
    assert response.status_code == 400
    body = client.get("/status/case").get_data(as_text=True)
    assert is_checked(body, "legal_referral")


def test_rate_limited_report_keeps_the_text_and_stores_no_address(
    base_app: Flask, app: Flask, keys_dir: Path, log_file: Path, redis_client: Redis
) -> None:
    limited = create_app(
        settings_for(
            base_app.config["SQLALCHEMY_DATABASE_URI"],
            keys_dir,
            log_file,
            rate_limits={"report": "2 per minute", "status": "2 per minute"},
            queue_prefix="confide-test-limited",
        )
    )
    limited.test_client_class = BrowserLikeClient
    try:
        client = limited.test_client()
        for _ in range(2):
            assert submit_report(client).status_code == 200
        third = submit_report(client, narrative="Third time, please keep this")
        assert third.status_code == 429
        assert "Third time, please keep this" in third.get_data(as_text=True)
        assert "Nothing you wrote is lost" in third.get_data(as_text=True)
        counters = [key.decode() for key in redis_client.scan_iter("LIMITS*")]
        assert counters, "rate-limit counters should live in Redis"
        # Each client's counter is keyed by a 32-hex-digit keyed hash, never its address; the
        # ceiling for all reports together by "everyone".
        assert all(re.search(r"/(?:[0-9a-f]{32}|everyone)/", key) for key in counters), counters
        assert not any("127.0.0.1" in key for key in counters)
    finally:
        with limited.app_context():
            limited.extensions["confide_redis"].close()
            db.engine.dispose()


# Pages of every kind: a reporter's, a staff sign-in, a redirect to it, a stylesheet, a health
# check, and a page that does not exist.
EVERY_KIND = ["/", "/report", "/staff/login", "/cases", "/static/style.css", "/healthz", "/no-such-page"]


@pytest.mark.parametrize("path", EVERY_KIND)
def test_behind_tls_every_response_tells_browsers_to_use_https_only(
    tmp_path: Path, keys_dir: Path, log_file: Path, path: str
) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'x.db'}", keys_dir, log_file, env="production", secure_cookies=True)
    app = create_app(settings)
    try:
        with app.test_client().get(path, base_url="https://confide.example") as response:
            assert response.status_code in (200, 303, 404)
            hsts = response.headers.get("Strict-Transport-Security", "")
        max_age = re.fullmatch(r"max-age=(\d+)(?:; includeSubDomains)?(?:; preload)?", hsts)
        assert max_age, f"{path}: no HSTS header, or a malformed one: {hsts!r}"
        # At least a year: a browser that was sent it once keeps refusing plain HTTP.
        assert int(max_age.group(1)) >= 365 * 24 * 3600
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("path", EVERY_KIND)
def test_without_tls_no_response_claims_https(bare_app: Flask, path: str) -> None:
    # A development machine on plain HTTP: HSTS there would lock the browser out of it.
    assert not bare_app.config["CONFIDE"].secure_cookies
    with bare_app.test_client().get(path) as response:
        assert response.status_code in (200, 303, 404)
        assert "Strict-Transport-Security" not in response.headers


def test_production_refuses_to_start_without_keys(tmp_path: Path, log_file: Path) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "no-keys", log_file, env="production", secure_cookies=True
    )
    with pytest.raises(KeyringError, match="refusing to start"):
        create_app(settings)
    assert not (tmp_path / "no-keys").exists(), "no keys may be made silently"


def test_production_refuses_to_start_without_secure_cookies(tmp_path: Path, log_file: Path) -> None:
    with pytest.raises(ConfigError, match="secure_cookies"):
        settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, log_file, env="production")


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("redis://127.0.0.1:6379/0", ["without a password"]),
        ("redis://:s3cret@10.0.0.5:6379/0", ["without TLS"]),
        ("rediss://confide:s3cret@redis.internal:6380/0", []),
        ("unix:///run/redis/redis.sock", []),
    ],
)
def test_production_warns_of_a_redis_anyone_could_write_to(
    tmp_path: Path, log_file: Path, url: str, warned: list[str]
) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'x.db'}", tmp_path, log_file, env="production", secure_cookies=True, redis_url=url
    )
    warnings = redis_warnings(settings)
    assert len(warnings) == len(warned) and all(w in text for w, text in zip(warned, warnings, strict=True))
    # The same Redis at another address is warned about only in production.
    assert redis_warnings(settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, log_file, redis_url=url)) == []


def test_the_warning_is_in_the_log_at_start(tmp_path: Path, keys_dir: Path, log_file: Path) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'x.db'}", keys_dir, log_file, env="production", secure_cookies=True)
    create_app(settings)
    assert "redis_url: Redis without a password" in log_file.read_text()


def test_the_sqlite_database_is_readable_by_its_owner_alone(tmp_path: Path, keys_dir: Path, log_file: Path) -> None:
    path = tmp_path / "new" / "confide.db"
    app = create_app(settings_for(f"sqlite:///{path}", keys_dir, log_file))
    with app.app_context():
        db.create_all()
        db.session.execute(select(func.count()).select_from(Case))
        files = sorted(file.name for file in path.parent.iterdir())
        assert files == ["confide.db", "confide.db-shm", "confide.db-wal"]
        for file in path.parent.iterdir():
            assert (file.stat().st_mode & 0o777) == 0o600, file
        db.session.remove()
        db.engine.dispose()
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    # One left readable by an older version is made private at start.
    path.chmod(0o644)
    create_app(settings_for(f"sqlite:///{path}", keys_dir, log_file))
    assert (path.stat().st_mode & 0o777) == 0o600


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's instance folder, here: a place of this test's own."""
    folder = tmp_path / "instance"
    monkeypatch.setattr("app.config.INSTANCE", folder)
    return folder


def test_an_instance_folder_left_open_is_made_private_at_start_whatever_the_database(
    database_url: str, instance: Path, keys_dir: Path, log_file: Path
) -> None:
    # Made by an older version, or by hand: anyone on the machine could list and read it.
    instance.mkdir()
    instance.chmod(0o755)
    app = create_app(settings_for(database_url, keys_dir, log_file))
    with app.app_context():
        db.engine.dispose()
    assert mode(instance) == 0o700


def test_a_sqlite_database_deep_in_a_new_instance_folder_is_private_all_the_way(
    instance: Path, keys_dir: Path, log_file: Path
) -> None:
    path = instance / "data" / "confide.db"
    app = create_app(settings_for(f"sqlite:///{path}", keys_dir, log_file))
    with app.app_context():
        db.engine.dispose()
    assert (mode(instance), mode(path.parent), mode(path)) == (0o700, 0o700, 0o600)
