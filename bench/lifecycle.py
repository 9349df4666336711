"""Lifecycle benchmark: wrapping every case key again after a KEK rotation, on PostgreSQL.

100,000 cases are cloned in SQL from one filed through the services, each then given a data
key of its own wrapped for it (that write is the first baseline). The keyring gets a new KEK
and app.cases.rekeying.rewrap_all wraps every key again as the workers do: batches of 2,000,
each read, unwrapped, wrapped and written in one transaction. The second baseline is the same
unwrapping and wrapping in memory alone, without the database. Every case key must then be
under the new KEK and open for its case. Target: at least 5,000 case keys a second. Exit 0
met, 1 errors, 2 missed. `.venv/bin/python bench/lifecycle.py [--quick]` (10,000 cases; or
--cases)"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, select, text

from app.cases.models import Case
from app.cases.rekeying import rewrap_all
from app.cases.sealing import case_key, case_owner
from app.crypto import WrappedKey, new_dek, unwrap_dek, wrap_dek
from app.crypto.keyring import save_keyring
from app.extensions import db
from app.keystore import current_keyring
from bench import harness
from tests import factories

TARGET_PER_S = 5_000
CLONE = """INSERT INTO cases SELECT p.* FROM cases t CROSS JOIN generate_series(1, :count) g,
LATERAL jsonb_populate_record(t, jsonb_build_object('clone', g, 'id', gen_random_uuid(),
  'receipt_index', '\\x' || encode(sha256(uuid_send(gen_random_uuid())), 'hex'),
  'submission_index', '\\x' || encode(sha256(uuid_send(gen_random_uuid())), 'hex'))) p
WHERE t.id = :template"""
WRAPPED = text("UPDATE cases SET dek_scheme = :scheme, dek_key_id = :key_id, dek_wrapped = :blob WHERE id = :case")


def seed(count: int) -> float:
    """``count`` cases, each with its own data key wrapped for it; returns the seconds the
    keys took to wrap and write (a baseline)."""
    template = factories.make_case(narrative=harness.story(random.Random(3), "en", 700))
    db.session.execute(text(CLONE), {"count": count - 1, "template": template.id})
    db.session.commit()
    ids = list(db.session.scalars(select(Case.id).where(Case.id != template.id)))
    ring, start = current_keyring(), time.perf_counter()
    for first in range(0, len(ids), 2000):
        rows = []
        for case_id in ids[first : first + 2000]:
            wrapped = wrap_dek(ring, new_dek(), owner=case_owner(case_id))
            rows.append(dict(case=case_id, scheme=wrapped.scheme, key_id=wrapped.key_id, blob=wrapped.blob))
        db.session.execute(WRAPPED.bindparams(bindparam("blob")), rows)
        db.session.commit()
    return time.perf_counter() - start


def in_memory(sample: list[tuple[str, str, str, bytes]]) -> float:
    """Seconds to unwrap and wrap ``sample`` again under the active KEK, no database."""
    ring, start = current_keyring(), time.perf_counter()
    for case_id, scheme, key_id, blob in sample:
        owner = case_owner(case_id)
        wrap_dek(ring, unwrap_dek(ring, WrappedKey(scheme, key_id, blob), owner=owner), owner=owner)
    return time.perf_counter() - start


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
        ring = current_keyring().with_new_kek()
        save_keyring(ring)
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
        per_s = {step: round(rate) for step, rate in rates.items()}
        figures = {"bench": "lifecycle", "cases": cases, "per_s": per_s}
        targets = {"rewrap_per_s_min": TARGET_PER_S, "met": met}
        return harness.finish(figures | {"targets": targets}, 0 if met else 2, errors, setup.workdir)


if __name__ == "__main__":
    sys.exit(main())
