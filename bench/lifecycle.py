"""Lifecycle benchmark: every case key wrapped again after a KEK rotation, then a backup and
its restore, on PostgreSQL.

100,000 cases are cloned in SQL from one filed through the services, each then given a data
key of its own wrapped for it (that write is the first baseline). The keyring gets a new KEK
and app.cases.rekeying.rewrap_all wraps every key again as the workers do: batches of 2,000,
each read, unwrapped, wrapped and written in one transaction. The second baseline is the same
unwrapping and wrapping in memory alone, without the database. Every case key must then be
under the new KEK and open for its case. Target: at least 5,000 case keys a second.

Then the same database is backed up (`flask backup create`'s make_backup: pg_dump streamed
through age) and restored into a new database (restore_backup: decrypt, check, pg_restore, count,
verify the audit chain, open 50 reports). Their baselines: a plain pg_dump -Fc (its default
compression; the backup's is the fastest, --compress=1) to a file and pg_restore of it into
another new database, without age; and age alone (pyrage) encrypting that plain dump. The
restore must verify.

Last, 1,000 cases are shredded one by one as "Delete my report" and the retention pass do
(retention.shredding.shred_case: a transaction each), against the baseline of as many others
deleted in one plain statement. Exit 0 met, 1 errors, 2 missed.
`.venv/bin/python bench/lifecycle.py [--quick]` (10,000 cases, 200 shredded; or --cases)"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import pyrage
from flask import current_app
from pyrage import x25519
from sqlalchemy import bindparam, delete, func, select, text

from app import create_app
from app.backup.making import make_backup
from app.backup.restoring import restore_backup
from app.cases.models import Case
from app.cases.rekeying import rewrap_all
from app.cases.sealing import case_key, case_owner, open_json, seal_json
from app.config import BackupSettings
from app.crypto import WrappedKey, new_dek, unwrap_dek, wrap_dek
from app.crypto.keyring import save_keyring
from app.extensions import db
from app.keystore import current_keyring
from app.retention.shredding import REPORTER, shred_case
from app.signals import announce
from bench import harness
from tests import factories

TARGET_PER_S = 5_000
SHRED_COUNT = 1_000  # cases shredded one by one, and as many deleted in one statement
CLONE = """INSERT INTO cases SELECT p.* FROM cases t CROSS JOIN generate_series(1, :count) g,
LATERAL jsonb_populate_record(t, jsonb_build_object('clone', g, 'id', gen_random_uuid(),
  'receipt_index', '\\x' || encode(sha256(uuid_send(gen_random_uuid())), 'hex'),
  'submission_index', '\\x' || encode(sha256(uuid_send(gen_random_uuid())), 'hex'))) p
WHERE t.id = :template"""
SEALED = text("UPDATE cases SET report_sealed = :report WHERE id = :case")
WRAPPED = text("UPDATE cases SET dek_scheme = :scheme, dek_key_id = :key_id, dek_wrapped = :blob WHERE id = :case")


def seed(count: int) -> float:
    """``count`` cases, each with its own data key wrapped for it; returns the seconds the
    keys took to wrap and write (a baseline). Each clone's report is then sealed again under
    its own key and bound to its own row, untimed, as intake would have: a restore's sample
    opens them."""
    template = factories.make_case(narrative=harness.story(random.Random(3), "en", 700))
    report = open_json(case_key(current_keyring(), template), template.report_sealed, **_report_of(template.id))
    db.session.execute(text(CLONE), {"count": count - 1, "template": template.id})
    db.session.commit()
    ids = list(db.session.scalars(select(Case.id).where(Case.id != template.id)))
    ring, took = current_keyring(), 0.0
    for first in range(0, len(ids), 2000):
        start, rows, keys = time.perf_counter(), [], {}
        for case_id in ids[first : first + 2000]:
            keys[case_id] = new_dek()
            wrapped = wrap_dek(ring, keys[case_id], owner=case_owner(case_id))
            rows.append(dict(case=case_id, scheme=wrapped.scheme, key_id=wrapped.key_id, blob=wrapped.blob))
        db.session.execute(WRAPPED.bindparams(bindparam("blob")), rows)
        db.session.commit()
        took += time.perf_counter() - start
        sealed = [dict(case=i, report=seal_json(dek, report, **_report_of(i))) for i, dek in keys.items()]
        db.session.execute(SEALED.bindparams(bindparam("report")), sealed)
        db.session.commit()
    return took


def _report_of(case_id: str) -> dict[str, str]:
    return {"record": "case", "record_id": case_id, "field": "report"}


def in_memory(sample: list[tuple[str, str, str, bytes]]) -> float:
    """Seconds to unwrap and wrap ``sample`` again under the active KEK, no database."""
    ring, start = current_keyring(), time.perf_counter()
    for case_id, scheme, key_id, blob in sample:
        owner = case_owner(case_id)
        wrap_dek(ring, unwrap_dek(ring, WrappedKey(scheme, key_id, blob), owner=owner), owner=owner)
    return time.perf_counter() - start


def _fresh_database(name: str) -> str:
    with psycopg.connect(harness.PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return re.sub(r"/[^/?]*$", f"/{name}", harness.PG_ADMIN_URL)


def _drop_database(name: str) -> None:
    with psycopg.connect(harness.PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _memory(field: str) -> int:
    """This process's ``field`` of /proc/self/status (VmRSS: now; VmHWM: the peak), in kB."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field + ":"))
    return int(line.split()[1])


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def backup_and_restore(workdir: Path, errors: list[str]) -> dict[str, float]:
    """Seconds and sizes of the plain baselines, the backup and the verified restore."""
    source = current_app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    plain, sealed, encrypted = workdir / "plain.pgdump", workdir / "backup.age", workdir / "plain.age"
    identity = x25519.Identity.generate()
    settings = current_app.config["CONFIDE"]
    backup = BackupSettings((str(identity.to_public()),), "", str(workdir / "last-backup.json"))
    current_app.config["CONFIDE"] = dataclasses.replace(settings, backup=backup)
    figures = {"pg_dump": _timed(["pg_dump", "--format=custom", f"--dbname={source}", f"--file={plain}"])}
    start = time.perf_counter()
    pyrage.encrypt_file(str(plain), str(encrypted), [identity.to_public()])
    figures["age"] = time.perf_counter() - start
    before = _memory("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from now
    start = time.perf_counter()
    make_backup(sealed)
    figures["backup"] = time.perf_counter() - start
    figures["backup_memory_growth_mb"] = (_memory("VmHWM") - before) / 1024
    figures["dump_mb"], figures["backup_mb"] = plain.stat().st_size / 2**20, sealed.stat().st_size / 2**20
    names = ("confide_bench_lifecycle_plain", "confide_bench_lifecycle_restored")
    try:
        target = _fresh_database(names[0])
        figures["pg_restore"] = _timed(
            ["pg_restore", "--no-owner", "--single-transaction", f"--dbname={target}", str(plain)]
        )
        restored_url = _fresh_database(names[1]).replace("postgresql://", "postgresql+psycopg://", 1)
        restored = create_app(database_url=restored_url)
        with restored.app_context():
            start = time.perf_counter()
            done = restore_backup(sealed, [identity])
            figures["restore"] = time.perf_counter() - start
            db.session.remove()
            db.engine.dispose()
        if done.problems or done.opened != done.sampled or not done.sampled:
            errors.append(f"the restore did not verify: {done.problems}, {done.opened}/{done.sampled} opened")
    finally:
        for name in names:
            _drop_database(name)
        for path in (plain, sealed, encrypted):
            path.unlink(missing_ok=True)
    return figures


def shredding(count: int) -> dict[str, float]:
    """Seconds to shred ``count`` cases as "Delete my report" and the retention pass do (each
    in its own transaction: referrals ended, its counts kept, its statistics row and id written,
    the case and everything of it deleted); and, the baseline, to delete ``count`` others in
    one plain statement."""
    ids = list(db.session.scalars(select(Case.id).order_by(Case.id).limit(2 * count)))
    db.session.rollback()
    start = time.perf_counter()
    for case_id in ids[:count]:
        shred_case(case_id, reason=REPORTER)
    shredded = time.perf_counter() - start
    start = time.perf_counter()
    db.session.execute(delete(Case).where(Case.id.in_(ids[count:])))
    db.session.commit()
    return {"shred": shredded, "delete": time.perf_counter() - start, "count": float(len(ids[:count]))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cases", type=int)
    args, errors = parser.parse_args(), []
    cases = args.cases or (10_000 if args.quick else 100_000)
    with harness.bench_setup("lifecycle", 9, in_process=True) as setup:
        started = time.perf_counter()
        seed_write = seed(cases)
        print(f"seeded {cases:,} cases in {time.perf_counter() - started:.1f} s", flush=True)
        old, ring = current_keyring(), current_keyring().with_new_kek()
        save_keyring(ring)
        announce("key_rotated", actor="", role="operator", key=ring.active_kek_id, replaced=old.active_kek_id)
        rows = db.session.execute(select(Case.id, Case.dek_scheme, Case.dek_key_id, Case.dek_wrapped)).all()
        memory = in_memory([tuple(row) for row in rows])  # type: ignore[misc]
        db.session.commit()
        start = time.perf_counter()
        moved = rewrap_all(current_keyring())
        rewrap = time.perf_counter() - start
        under = dict(db.session.execute(select(Case.dek_key_id, func.count()).group_by(Case.dek_key_id)).all())
        if under != {ring.active_kek_id: cases} or moved != cases:
            errors.append(f"after the re-wrap: {under} ({moved} moved)")
        for case in db.session.scalars(select(Case).order_by(func.random()).limit(200)):
            case_key(current_keyring(), case)  # raises if it does not open for its case
        rates = {"seed_write": cases / seed_write, "in_memory": cases / memory, "rewrap": moved / rewrap}
        harness.table(
            ["step", "case keys", "seconds", "per second"],
            [
                ["baseline: wrap new keys and write them", cases - 1, seed_write, rates["seed_write"]],
                ["baseline: unwrap and wrap, in memory", cases, memory, rates["in_memory"]],
                ["re-wrap after rotation (rewrap_all)", moved, rewrap, rates["rewrap"]],
            ],
        )
        met = rates["rewrap"] >= TARGET_PER_S
        verdict = "met" if met else "MISSED"
        print(f"\nre-wrap {rates['rewrap']:,.0f} case keys/s (target >= {TARGET_PER_S:,}): {verdict}")
        db.session.rollback()  # no transaction left idle (the server ends it) while the backup runs
        took = backup_and_restore(setup.workdir, errors)
        dump_mb, backup_mb = took["dump_mb"], took["backup_mb"]
        harness.table(
            ["step", "MB", "seconds", "MB per second"],
            [
                ["baseline: pg_dump -Fc to a file", dump_mb, took["pg_dump"], dump_mb / took["pg_dump"]],
                ["baseline: age alone (pyrage) on that dump", dump_mb, took["age"], dump_mb / took["age"]],
                ["backup (make_backup: pg_dump through age)", backup_mb, took["backup"], backup_mb / took["backup"]],
                ["baseline: pg_restore into a new database", dump_mb, took["pg_restore"], dump_mb / took["pg_restore"]],
                ["restore (restore_backup, verified)", backup_mb, took["restore"], backup_mb / took["restore"]],
            ],
        )
        print(f"\nmemory while backing up: at most {took['backup_memory_growth_mb']:.1f} MB more than before")
        shred = shredding(SHRED_COUNT if not args.quick else SHRED_COUNT // 5)
        gone = int(shred["count"])
        rates |= {"shred": gone / shred["shred"], "plain_delete": gone / shred["delete"]}
        harness.table(
            ["step", "cases", "seconds", "per second"],
            [
                ["baseline: DELETE in one statement (cascades)", gone, shred["delete"], rates["plain_delete"]],
                ["shred (shred_case, one transaction each)", gone, shred["shred"], rates["shred"]],
            ],
        )
        per_s = {step: round(rate) for step, rate in rates.items()}
        seconds = {k: round(v, 2) for k, v in took.items() if not k.endswith("_mb")}
        megabytes = {k.removesuffix("_mb"): round(v, 1) for k, v in took.items() if k.endswith("_mb")}
        figures = {"bench": "lifecycle", "cases": cases, "per_s": per_s, "seconds": seconds, "mb": megabytes}
        targets = {"rewrap_per_s_min": TARGET_PER_S, "met": met}
        return harness.finish(figures | {"targets": targets}, 0 if met else 2, errors, setup.workdir)


if __name__ == "__main__":
    sys.exit(main())
