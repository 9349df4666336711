"""Intake benchmark: report submissions through gunicorn on PostgreSQL, beside a baseline:
`.venv/bin/python bench/intake.py` (or `make bench`). gunicorn's 2 sync workers serve the app
with one more form, ``/bench/baseline``: everything every request passes through (session, CSRF,
access check, locale, headers) and nothing more. 16 Locust users (bench/load.py) load a form and
send it back without pause, after a warm-up, per phase: ``baseline``, and ``submission`` (a
realistic report, answered with a receipt). Targets: submission pairs/s ÷ baseline pairs/s ≥
0.5, submission p99 < 100 ms. Exit 0 targets met, 1 errors, 2 missed."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Blueprint, Flask
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField

from app import create_app
from app.access import PUBLIC, allow
from bench import harness

TARGET_RATIO, TARGET_P99_MS = 0.5, 100.0
blueprint = Blueprint("bench", __name__, url_prefix="/bench")


class BaselineForm(FlaskForm):
    note = StringField("Note")


@blueprint.route("/baseline", methods=["GET", "POST"])
@allow(PUBLIC)
def baseline() -> tuple[str, int]:
    form = BaselineForm()
    if form.is_submitted():
        return ("ok\n", 200) if form.validate() else ("invalid\n", 400)
    page = Markup('<!doctype html><html lang="en"><title>Baseline</title><form method="post">{}{}{}<button>Send')
    return str(page.format(form.csrf_token(), form.note.label(), form.note())), 200


def app_with_baseline() -> Flask:
    app = create_app()
    app.register_blueprint(blueprint)
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=int, default=20, help="seconds measured per phase (after 4 of warm-up)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    phases, errors = {}, []
    with harness.bench_setup("intake", 14, harness.UNLIMITED) as setup:
        with harness.gunicorn(setup, args.workers, "bench.intake:app_with_baseline()") as (port, pids):
            for user, name in (("Baseline", "baseline"), ("Reporter", "submission")):
                errors += harness.locust(port, user, args.users, 4)["failed"]["samples"]
                before = harness.cpu_snapshot(pids)
                run = harness.locust(port, user, args.users, args.duration)
                others, app = harness.other_cpu(before, harness.cpu_snapshot(pids))
                errors += run["failed"]["samples"]
                phases[name] = run.get(name, {"per_s": 0.0, "p99_ms": float("nan")}) | {"noisy": others > app / 4}
        titles = ["phase (GET + POST)", "pairs", "failures", "per s", "p50 ms", "p95 ms", "p99 ms", "others' CPU"]
        harness.table(titles, [[name, *figures.values()] for name, figures in phases.items()])
        base, sub = phases["baseline"], phases["submission"]
        ratio = round(sub["per_s"] / base["per_s"], 3) if base["per_s"] else 0.0
        met = {"ratio": ratio >= TARGET_RATIO, "p99": sub["p99_ms"] < TARGET_P99_MS}
        print(f"\nsubmissions/s ÷ baseline/s = {ratio:.3f} (target ≥ {TARGET_RATIO}); p99 {sub['p99_ms']} ms", end="")
        print(f" (target < {TARGET_P99_MS:g}): {'met' if all(met.values()) else 'MISSED'}")
        figures = {"bench": "intake", "users": args.users, "duration_s": args.duration, "cpus": os.cpu_count()}
        figures |= {"gunicorn_workers": args.workers, **phases, "ratio": ratio, "met": met}
        return harness.finish(figures, 0 if all(met.values()) else 2, errors, setup.workdir)


if __name__ == "__main__":
    sys.exit(main())
