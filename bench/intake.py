"""Intake benchmark: report submissions through gunicorn on PostgreSQL, against a baseline.

    .venv/bin/python bench/intake.py    (or `make bench`; --clients, --duration, --workers)

A fresh database ``confide_bench``, Redis database 14 (flushed; CONFIDE_BENCH_REDIS_URL), and
gunicorn with 2 sync workers (the work is CPU-bound Python: threads would only overlap the
1-2 ms a submission waits on PostgreSQL and Redis) serving the app with bench/baseline.py's
form added. 16 clients, each with its own connection and cookie jar, loop for a fixed time
per phase: ``baseline`` GETs /bench/baseline and POSTs it back (no database, no Redis);
``submission`` GETs /report and POSTs a realistic report, and must be shown a receipt. One
GET + POST pair is one submission as a reporter meets it. Targets: submission pairs/s ÷
baseline pairs/s ≥ 0.5, submission p99 < 100 ms. Exit 0 targets met, 1 errors, 2 missed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

REDIS_URL = os.environ.get("CONFIDE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TARGET_RATIO = 0.5
TARGET_P99_MS = 100.0
RECEIPT_RE = re.compile(r'id="receipt">\s*([0-9-]{24})\s*<')
CONFIG_TOML = """\
[rate_limits]
# Every client is 127.0.0.1: the benchmark measures, it is not throttled.
report = "1000000 per minute"
report_all = "1000000 per minute"
status = "1000000 per minute"
"""
CATEGORIES = "sexual_harassment sexual_harassment sexual_assault practitioner_violation exploitation threats"
CATEGORIES += " physical_assault rape other"


def report_answers(rng: random.Random, n: int) -> dict[str, object]:
    """A report as reporters write them; one in four gives a name and a way to reach them."""
    answers: dict[str, object] = {
        "identity": "anonymous",
        "category": rng.choice(CATEGORIES.split()),
        "narrative": " ".join(rng.sample(harness.SENTENCES[:10], rng.randint(3, 6))),
        "perpetrator": rng.choice(["client", "employer", "coworker", ""]),
        "setting": rng.choice(["clinic", "franchise", "outcall", "hotel", ""]),
        "when": rng.choice(["72h", "week", "month", "year", ""]),
        "county": rng.choice(["hartford", "new_haven", "fairfield", "outside", ""]),
        "danger_now": rng.choice(["no", "no", "no", "unsure", "yes"]),
        "injured": rng.choice(["no", "no", "unsure", "yes"]),
        "ongoing": rng.choice(["yes", "no", "unsure"]),
        "wants": rng.sample(["peer", "legal", "licensing", "record_only"], rng.randint(0, 2)),
        "language": "en",
        "peer_support": "y",
        "website": "",
    }
    if rng.random() < 0.25:
        answers.update(identity="named", name=f"Reporter {n}", email=f"reporter{n}@example.org")
        answers.update(phone="860-555-0100", safe_times="Weekdays after 6 pm", voicemail_ok="no")
        answers.update(code_word="bluebird", contact_email="y", contact_text="y", legal_referral="y")
    return {k: v for k, v in answers.items() if v not in ("", [])}


def baseline_pair(browser: harness.Browser, rng: random.Random, n: int) -> None:
    """The app's fixed cost: a form with a CSRF token, and its answer."""
    status, page = browser.request("GET", "/bench/baseline")
    token = harness.hidden_fields(page).get("csrf_token")
    if status != 200 or not token:
        raise harness.ClientError(f"GET /bench/baseline: {status}, csrf_token {'present' if token else 'missing'}")
    status, body = browser.request("POST", "/bench/baseline", {"csrf_token": token, "note": f"note {n}"})
    if status != 200 or body != "ok\n":
        raise harness.ClientError(f"POST /bench/baseline: {status} {body[:80]!r}")


def submission_pair(browser: harness.Browser, rng: random.Random, n: int) -> None:
    status, page = browser.request("GET", "/report")
    hidden = harness.hidden_fields(page)
    if status != 200 or not hidden.get("csrf_token") or not hidden.get("submission"):
        raise harness.ClientError(f"GET /report: {status}, hidden fields {sorted(hidden)}")
    status, body = browser.request("POST", "/report", {**hidden, **report_answers(rng, n)})
    if status != 200 or not RECEIPT_RE.search(body):
        notice = re.search(r'class="(?:notice[^"]*|field-errors)"[^>]*>(.{0,160})', body)
        raise harness.ClientError(f"POST /report: {status}, no receipt {notice.group(1) if notice else ''!r}")


def run_phase(
    port: int, pair: Callable[[harness.Browser, random.Random, int], None], clients: int, seconds: float, seed: int
) -> tuple[harness.Tally, float]:
    def client_step(index: int, rng: random.Random) -> Callable[[harness.Browser, harness.Tally], None]:
        numbers = itertools.count(index * 1_000_000 + 1)  # each client's reporters apart

        def step(browser: harness.Browser, tally: harness.Tally) -> None:
            start = time.perf_counter()
            pair(browser, rng, next(numbers))
            tally.latencies.append(time.perf_counter() - start)

        return step

    return harness.run_clients(port, clients, seconds, seed, client_step)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per phase")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds of warm-up per phase")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"gunicorn: {args.workers} workers; {args.clients} clients; {args.warmup:g} + {args.duration:g} s a phase")
    tallies: dict[str, harness.Tally] = {}
    phases: dict[str, dict[str, float | int]] = {}
    with harness.bench_setup(
        database="confide_bench",
        redis_url=REDIS_URL,
        queue_prefix="confide-bench",
        config_toml=CONFIG_TOML,
        workdir_prefix="confide-bench-",
    ) as setup:
        port = harness.free_port()
        app = "bench.baseline:app_with_baseline()"
        with harness.gunicorn(args.workers, setup.env, setup.workdir, port, "/bench/baseline", app) as workers:
            for seed, (name, pair) in enumerate([("baseline", baseline_pair), ("submission", submission_pair)], 1):
                tallies[name], _ = run_phase(port, pair, args.clients, args.warmup, seed)
                if tallies[name].errors:
                    break
                before = harness.cpu_snapshot(workers)
                tallies[name], elapsed = run_phase(port, pair, args.clients, args.duration, seed + 10)
                used = harness.cpu_used(before, harness.cpu_snapshot(workers))
                phases[name] = harness.summary(tallies[name].latencies, elapsed)
                print(f"  {name}: done in {elapsed:.1f} s", flush=True)
                if used["other"] > 0.25 * used["gunicorn"]:
                    print(f"  WARNING: other processes used {used['other']:.0f} CPU s meanwhile: figures are noisy")
                if tallies[name].errors:
                    break
        app_errors = harness.app_log_errors(setup.workdir)
    return report(args, phases, tallies, app_errors)


def report(
    args: argparse.Namespace,
    phases: dict[str, dict[str, float | int]],
    tallies: dict[str, harness.Tally],
    app_errors: list[str],
) -> int:
    """The table and the targets, then the JSON line; returns the exit status."""
    columns = [harness.Column("phase (GET+POST pairs)", 24), harness.Column("pairs", 9)]
    columns += [harness.Column(title, 9, ".1f") for title in ("per s", "p50 ms", "p95 ms", "p99 ms")]
    print()
    harness.print_table(columns, [(name, *figures.values()) for name, figures in phases.items()])
    print()
    errors = sum(tally.errors for tally in tallies.values())
    figures: dict[str, object] = {
        "bench": "intake",
        "clients": args.clients,
        "duration_s": args.duration,
        "gunicorn": {"workers": args.workers, "worker_class": "sync"},
        "cpus": os.cpu_count(),
        **phases,
        "errors": errors,
        "log_errors": len(app_errors),
    }
    status = 1
    base, sub = phases.get("baseline"), phases.get("submission")
    if base and sub and base["per_s"]:
        ratio = round(sub["per_s"] / base["per_s"], 3)
        ratio_ok, p99_ok = ratio >= TARGET_RATIO, sub["p99_ms"] < TARGET_P99_MS
        figures["ratio"] = ratio
        figures["targets"] = {
            "ratio_min": TARGET_RATIO,
            "p99_max_ms": TARGET_P99_MS,
            "ratio_met": ratio_ok,
            "p99_met": p99_ok,
            "met": ratio_ok and p99_ok,
        }
        print(
            f"ratio submissions/s ÷ baseline/s = {sub['per_s']} ÷ {base['per_s']} = {ratio:.3f} "
            f"(target ≥ {TARGET_RATIO}): {'met' if ratio_ok else 'MISSED'}"
        )
        print(
            f"submission p99 = {sub['p99_ms']} ms with {args.clients} clients "
            f"(target < {TARGET_P99_MS:g} ms): {'met' if p99_ok else 'MISSED'}"
        )
        status = 0 if ratio_ok and p99_ok else 2
    samples = {name: tally.samples for name, tally in tallies.items()}
    return harness.finish(figures, status, errors, app_errors, samples)


if __name__ == "__main__":
    sys.exit(main())
