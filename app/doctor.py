"""`flask doctor`: what an operator checks after a change, a restore or a page at 3 am.

Checks: the keyring and its KEKs, the database and its schema, Redis, the production settings,
mail and paging, workers and queues, the last backup's age, the audit chain. Each says OK, WARN
or FAIL, in a sentence, and what to do about anything that is not OK. The exit status is 1 if
anything failed. Nothing printed is a secret or anything a reporter
wrote: paths, counts, key ids, ages.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import click
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.audit.log import verify
from app.backup.state import last_backup
from app.cases.models import Case
from app.cases.rekeying import wrapped_by
from app.config import ROOT, current_settings, redis_warnings
from app.crypto import Keyring, KeyringError, load_keyring
from app.extensions import db
from app.keys_uses import describe, root_uses
from app.keystore import keys_dir
from app.models import utcnow
from app.staff.models import StaffUser
from app.triage.models import ROUTABLE
from app.triage.queue import live_workers, queue_names, redis_connection

OK, WARN, FAIL = "OK", "WARN", "FAIL"
# A KEK older than this should be rotated; a queued job or an unrouted case older than these
# means the workers are not keeping up.
KEK_MAX_AGE = timedelta(days=365)
QUEUE_STALE = timedelta(minutes=5)
UNROUTED_STALE = timedelta(minutes=2)
BACKUP_STALE = timedelta(hours=26)  # a daily backup, and then some


@dataclass(frozen=True)
class Finding:
    state: str
    what: str
    said: str
    fix: str = ""


Check = Callable[[], Iterator[Finding]]


def _keyring() -> Iterator[Finding]:
    directory = keys_dir(current_settings())
    try:
        ring = load_keyring(directory)
    except KeyringError as error:
        yield Finding(FAIL, "keyring", str(error), "Restore the keyring from its offline backup.")
        return
    mode = stat.S_IMODE(ring.path.stat().st_mode)
    yield Finding(OK, "keyring", f"{ring.path} (mode {mode:04o})")
    folder = stat.S_IMODE(directory.stat().st_mode)
    if folder & 0o077:
        yield Finding(WARN, "keyring", f"{directory} has mode {folder:04o}", f"chmod 700 {directory}")
    yield from _kek_age(ring)
    yield from _kek_use(ring)
    yield from _root_use(ring)


def _kek_age(ring: Keyring) -> Iterator[Finding]:
    stamp = ring.active_kek_id.split("-")[1] if ring.active_kek_id.count("-") >= 2 else ""
    try:
        made = datetime.strptime(stamp, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        yield Finding(WARN, "KEK age", f"the age of {ring.active_kek_id} is not known", "flask keys rotate")
        return
    age = datetime.now(UTC) - made
    if age > KEK_MAX_AGE:
        yield Finding(WARN, "KEK age", f"{ring.active_kek_id} is {age.days} days old", "flask keys rotate")
    else:
        yield Finding(OK, "KEK age", f"{ring.active_kek_id} is {age.days} days old")


def _kek_use(ring: Keyring) -> Iterator[Finding]:
    counts = wrapped_by()
    missing = {key_id: n for key_id, n in counts.items() if key_id not in ring.keks}
    if missing:
        named = ", ".join(f"{key_id} ({n} cases)" for key_id, n in sorted(missing.items()))
        yield Finding(
            FAIL, "retired keys", f"case keys wrapped by a KEK not in the keyring: {named}", "Restore that KEK."
        )
    grace = timedelta(days=current_settings().kek_retire_after_days)
    now = datetime.now(UTC)
    for key_id, since in sorted(ring.superseded.items()):
        wraps = counts.get(key_id, 0)
        if wraps and since and now - since > timedelta(hours=1):
            fix = "Check the workers run, or: flask keys rewrap"
            yield Finding(WARN, "re-wrap", f"{key_id} still wraps {wraps} case keys, superseded {since:%Y-%m-%d}", fix)
        elif wraps:
            yield Finding(OK, "re-wrap", f"{key_id}: {wraps} case keys left to re-wrap")
        elif since is None or now - since >= grace:
            yield Finding(WARN, "retired keys", f"{key_id} wraps nothing and can go", "flask keys retire")
    if not missing:
        yield Finding(OK, "retired keys", "every case key opens with a KEK in the keyring")


def _root_use(ring: Keyring) -> Iterator[Finding]:
    uses = root_uses()
    missing = {version: protects for version, protects in uses.items() if version not in ring.roots}
    for version, protects in sorted(missing.items()):
        found = f"{describe(protects)} made under {version}, which is not in the keyring"
        yield Finding(FAIL, "root versions", found, f"Restore {version} from the keyring's offline backup.")
    grace = timedelta(days=current_settings().kek_retire_after_days)
    now = datetime.now(UTC)
    for version in ring.older_roots():
        since = ring.root_superseded.get(version)
        if version in uses and since and now - since > timedelta(hours=1):
            found = f"{version} still protects {describe(uses[version])}"
            yield Finding(WARN, "root versions", found, "flask keys rekey (receipts and codes wait for their holders)")
        elif version not in uses and (since is None or now - since >= grace):
            yield Finding(WARN, "root versions", f"{version} protects nothing and can go", "flask keys retire")
    if not missing:
        yield Finding(
            OK, "root versions", f"everything opens with a root version in the keyring ({ring.active_root_id} active)"
        )


def _database() -> Iterator[Finding]:
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        yield Finding(
            FAIL, "database", f"does not answer ({error.__class__.__name__})", "Start it; check database_url."
        )
        return
    config = AlembicConfig()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    if current == heads:
        yield Finding(OK, "database", f"answers, at revision {', '.join(sorted(heads))}")
    else:
        at = ", ".join(sorted(current)) or "none"
        yield Finding(
            FAIL, "database", f"at revision {at}, the code expects {', '.join(sorted(heads))}", "make migrate"
        )


def _redis() -> Iterator[Finding]:
    settings = current_settings()
    try:
        redis_connection().ping()
    except RedisError as error:
        fix = "Start Redis; reports are still kept and routed when it is back."
        yield Finding(FAIL, "Redis", f"does not answer ({error.__class__.__name__})", fix)
        return
    yield Finding(OK, "Redis", "answers")
    for warning in redis_warnings(settings):
        yield Finding(FAIL, "Redis", warning, "See README, Redis.")


def _production() -> Iterator[Finding]:
    settings = current_settings()
    if settings.env != "production":
        yield Finding(WARN, "production", f"env is {settings.env}: fine to try it, not to take reports")
        return
    cookies = "secure cookies" if settings.secure_cookies else "cookies without Secure"
    state = OK if settings.secure_cookies and settings.public_url.startswith("https://") else FAIL
    yield Finding(state, "production", f"{cookies}, public_url {settings.public_url}", "Serve over HTTPS only.")


def _mail_and_paging() -> Iterator[Finding]:
    settings = current_settings()
    if settings.mail.backend == "console":
        state = FAIL if settings.env == "production" else WARN
        yield Finding(state, "mail", "emails are only printed to the log (backend console)", "Set [mail] for SMTP.")
    else:
        yield Finding(OK, "mail", f"through {settings.mail.host}:{settings.mail.port}")
    coordinators = db.session.scalars(
        select(StaffUser.paging_sealed).where(
            StaffUser.role == "coordinator", StaffUser.active.is_(True), StaffUser.enrolled_at.is_not(None)
        )
    ).all()
    paged = sum(1 for sealed in coordinators if sealed is not None)
    if not coordinators:
        yield Finding(FAIL, "paging", "no enrolled coordinator: nobody hears of danger", "flask staff invite")
    elif not paged:
        fix = "Coordinators set one on their profile page."
        yield Finding(WARN, "paging", "no coordinator has a paging address: danger is told by email only", fix)
    else:
        yield Finding(OK, "paging", f"{paged} of {len(coordinators)} coordinators can be paged")


def _workers() -> Iterator[Finding]:
    try:
        alive = live_workers()
        queues = [Queue(name, connection=redis_connection(), serializer="json") for name in queue_names()]
        waiting = sum(queue.count for queue in queues)
        failed = sum(queue.failed_job_registry.get_job_count(cleanup=False) for queue in queues)
        oldest = [job.enqueued_at for queue in queues for job in queue.get_jobs(0, 0) if job.enqueued_at]
    except RedisError:
        return  # told by the Redis check
    fix = "Start them (Procfile: worker, clock); see the systemd units."
    yield Finding(OK if alive else FAIL, "workers", f"{alive} worker(s) alive", "" if alive else fix)
    now = datetime.now(UTC)
    stale = [moment for moment in oldest if now - moment.replace(tzinfo=UTC) > QUEUE_STALE]
    if stale:
        yield Finding(WARN, "queues", f"{waiting} job(s) waiting, some for over 5 minutes", fix)
    else:
        yield Finding(OK, "queues", f"{waiting} job(s) waiting")
    if failed:
        yield Finding(WARN, "queues", f"{failed} failed job(s) kept", "rq info; the sweep makes up for them")
    unrouted = db.session.scalar(
        select(Case.created_at)
        .where(Case.routing_state.in_(ROUTABLE), Case.created_at < utcnow() - UNROUTED_STALE)
        .limit(1)
    )
    if unrouted is not None:
        yield Finding(FAIL, "routing", "a case has waited over 2 minutes to be routed", fix)


def _backups() -> Iterator[Finding]:
    settings = current_settings()
    when = last_backup(settings)
    fix = "flask backup create --out FILE.age (see README, Backups)"
    if when is None:
        yield Finding(WARN if settings.env != "production" else FAIL, "backups", "no backup made here yet", fix)
        return
    age = datetime.now(UTC) - when
    hours = age.total_seconds() / 3600
    said = f"the last one was made {when:%Y-%m-%d %H:%M} UTC ({hours:.0f} hours ago)"
    yield Finding(WARN if age > BACKUP_STALE else OK, "backups", said, fix if age > BACKUP_STALE else "")


def _audit() -> Iterator[Finding]:
    broken = verify()
    if broken is None:
        yield Finding(OK, "audit chain", "every link holds")
    else:
        yield Finding(FAIL, "audit chain", f"broken: {broken.reason}", "flask audit verify; see ARCHITECTURE.md")


# Each check by what it looks at; a check that cannot run says so under that name.
CHECKS: tuple[tuple[str, Check], ...] = (
    ("keyring", _keyring),
    ("database", _database),
    ("Redis", _redis),
    ("production", _production),
    ("mail and paging", _mail_and_paging),
    ("workers", _workers),
    ("backups", _backups),
    ("audit chain", _audit),
)


def examine() -> list[Finding]:
    findings: list[Finding] = []
    for name, check in CHECKS:
        try:
            findings.extend(check())
        except Exception as error:  # noqa: BLE001 - one check failing must not hide the others
            findings.append(Finding(FAIL, name, f"could not be checked ({error.__class__.__name__})"))
            db.session.rollback()
    return findings


@click.command("doctor")
def doctor_command() -> None:
    """Check the keyring, database, Redis, settings, mail, paging, workers and audit chain."""
    findings = examine()
    width = max(len(finding.what) for finding in findings) + 2
    for finding in findings:
        click.echo(f"{finding.state:<5} {finding.what:<{width}}{finding.said}")
        if finding.state != OK and finding.fix:
            click.echo(f"{'':<5} {'':<{width}}→ {finding.fix}")
    failed = sum(finding.state == FAIL for finding in findings)
    warned = sum(finding.state == WARN for finding in findings)
    click.echo(f"\n{failed} failed, {warned} to look at, {len(findings) - failed - warned} fine.")
    if failed:
        raise SystemExit(1)


def init_cli(app: Flask) -> None:
    app.cli.add_command(doctor_command)
