"""Intake benchmark: end-to-end report submissions through gunicorn on PostgreSQL.

Run from the repository root:

    .venv/bin/python bench/intake.py            (or `make bench`)

It starts everything it needs and removes it again, even on error:

* a fresh PostgreSQL database ``confide_bench`` (dropped at the end),
* a keyring, a config file and a log file in a temporary folder,
* Redis database 14 (flushed before and after) with its own queue prefix,
* gunicorn with 2 sync workers on a free loopback port (see WORKER CLASS below), with the
  app's /bench/baseline endpoints enabled and the rate limits raised so nothing is throttled.

Then 16 clients, each a thread with its own keep-alive connection and cookie jar (as a
browser has), work in a closed loop for a fixed time per phase:

* baseline:   GET /bench/baseline, POST it with its CSRF token (no database, no Redis);
* submission: GET /report, POST a realistic report with its CSRF and submission tokens;
  every answer must be 200 with the receipt on it.

A "pair" (GET + POST) is one submission as a reporter experiences it; the POST alone is
timed too. The ratio is submission pairs/s ÷ baseline pairs/s. Targets: ratio ≥ 0.5 and
submission p99 < 100 ms with 16 clients. The last line printed is one JSON object with
every figure. Exit status: 0 targets met, 1 errors during the run, 2 targets missed.

WORKER CLASS. The default is gunicorn's sync worker, one request at a time per worker, one
worker per CPU. The work is CPU-bound Python (templates, forms, ORM): threads in one
process share one interpreter lock, so gthread threads only overlap the 1-2 ms a
submission waits on PostgreSQL and Redis, and measured they cost more CPU per submission
(lock hand-offs) than they save. gthread also keeps each client's connection on the worker
that accepted it, so 16 kept-alive clients can split 10/6 or worse between two workers,
which made its p99 swing from run to run; sync workers close the connection after each
answer and the next request goes to whichever worker is free. In production gunicorn sits
behind the TLS proxy (README), which is what shields sync workers from slow clients.
``--worker-class gthread --threads N`` measures the alternative.

PostgreSQL: CONFIDE_BENCH_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/test)
names a database to connect to for CREATE/DROP DATABASE. Redis: CONFIDE_BENCH_REDIS_URL
(default redis://127.0.0.1:6379/14); it is flushed, so never point it at a used database.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

BENCH_DATABASE = "confide_bench"
REDIS_URL = os.environ.get("CONFIDE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
QUEUE_PREFIX = "confide-bench"

TARGET_RATIO = 0.5
TARGET_P99_MS = 100.0

RECEIPT_RE = re.compile(r'id="receipt">\s*([0-9-]{24})\s*<')

CONFIG_TOML = """\
# Written by bench/intake.py for one run; removed afterwards.
[rate_limits]
# Every client is 127.0.0.1: raise the limits so the benchmark measures, not throttles.
report = "1000000 per minute"
report_all = "1000000 per minute"
status = "1000000 per minute"
"""


# ------------------------------------------------------------------------ the clients


CATEGORIES = [
    "sexual_harassment",
    "sexual_harassment",
    "sexual_assault",
    "practitioner_violation",
    "exploitation",
    "threats",
    "physical_assault",
    "rape",
    "other",
]
# The first ten only: drawing from more would change the reports this benchmark sends.
SENTENCES = harness.SENTENCES[:10]


def report_answers(rng: random.Random, n: int) -> dict[str, object]:
    """A realistic report: a category, a narrative of a few hundred characters, some
    optional answers; about one in four reporters gives their name and a way to reach them."""
    sentences = rng.sample(SENTENCES, rng.randint(3, 6))
    answers: dict[str, object] = {
        "identity": "anonymous",
        "category": rng.choice(CATEGORIES),
        "narrative": " ".join(sentences),
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
        answers.update(
            identity="named",
            name=f"Reporter {n}",
            email=f"reporter{n}@example.org",
            phone="860-555-0100",
            safe_times="Weekdays after 6 pm",
            voicemail_ok="no",
            code_word="bluebird",
            contact_email="y",
            contact_text="y",
            legal_referral="y",
        )
    return {k: v for k, v in answers.items() if v not in ("", [])}


@dataclass
class Tally(harness.Tally):
    """Per phase: each pair's time (GET + POST) and each POST's alone, in seconds."""

    pairs: list[float] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)

    def merge(self, other: Self) -> None:
        """Add one client's tally to the phase's."""
        super().merge(other)
        self.pairs += other.pairs
        self.posts += other.posts


def baseline_pair(browser: harness.Browser, rng: random.Random, n: int, tally: Tally, record: bool) -> None:
    """GET the baseline form and POST it back with its CSRF token: the app's fixed cost."""
    start = time.perf_counter()
    status, page = browser.request("GET", "/bench/baseline")
    if status != 200:
        raise harness.ClientError(f"GET /bench/baseline: {status}")
    token = harness.hidden_fields(page).get("csrf_token")
    if not token:
        raise harness.ClientError("GET /bench/baseline: no csrf_token")
    sent = time.perf_counter()
    status, body = browser.request("POST", "/bench/baseline", {"csrf_token": token, "note": f"note {n}"})
    done = time.perf_counter()
    if status != 200 or body != "ok\n":
        raise harness.ClientError(f"POST /bench/baseline: {status} {body[:80]!r}")
    if record:
        tally.pairs.append(done - start)
        tally.posts.append(done - sent)


def submission_pair(browser: harness.Browser, rng: random.Random, n: int, tally: Tally, record: bool) -> None:
    """GET /report and POST a realistic report with its tokens; the answer must show a receipt."""
    start = time.perf_counter()
    status, page = browser.request("GET", "/report")
    if status != 200:
        raise harness.ClientError(f"GET /report: {status}")
    hidden = harness.hidden_fields(page)
    if not hidden.get("csrf_token") or not hidden.get("submission"):
        raise harness.ClientError(f"GET /report: hidden fields missing ({sorted(hidden)})")
    form = {**hidden, **report_answers(rng, n)}
    sent = time.perf_counter()
    status, body = browser.request("POST", "/report", form)
    done = time.perf_counter()
    if status != 200 or not RECEIPT_RE.search(body):
        notice = re.search(r'class="(?:notice[^"]*|field-errors)"[^>]*>(.{0,160})', body)
        raise harness.ClientError(f"POST /report: {status}, no receipt {notice.group(1) if notice else ''!r}")
    if record:
        tally.pairs.append(done - start)
        tally.posts.append(done - sent)


Scenario = Callable[[harness.Browser, random.Random, int, Tally, bool], None]


def run_phase(
    port: int, scenario: Scenario, clients: int, seconds: float, record: bool, seed: int
) -> tuple[Tally, float]:
    """``clients`` threads each loop over ``scenario`` for ``seconds``; returns the tally and
    the wall time from the common start to the last client's last answer."""

    def client_step(index: int, rng: random.Random) -> harness.Step[Tally]:
        # Each client numbers its reports apart from the others' (reporter names, notes).
        numbers = itertools.count(index * 1_000_000 + 1)
        return lambda browser, local: scenario(browser, rng, next(numbers), local, record)

    return harness.run_clients(port, clients, seconds, seed, Tally, client_step)


# ---------------------------------------------------------------------------- results


def cpu_per_pair(before: dict[str, float], after: dict[str, float], pairs: int, elapsed: float) -> dict[str, float]:
    """CPU milliseconds per pair by party, how many CPUs were busy, and the busiest
    worker's share of the workers' CPU."""
    used = harness.cpu_used(before, after)
    per_pair = {f"{k}_ms_per_pair": round(1000 * v / pairs, 2) if pairs else 0.0 for k, v in used.items()}
    per_pair["machine_busy_cores"] = round(used["machine"] / elapsed, 2) if elapsed else 0.0
    # The busiest worker's share of all the workers' CPU; an even split is 1/workers.
    workers = [after[k] - before[k] for k in before if k.startswith("worker:")]
    total = sum(workers)
    per_pair["busiest_worker_share"] = round(max(workers) / total, 2) if workers and total else 0.0
    return per_pair


COLUMNS = (
    harness.Column("phase", 28),
    harness.Column("requests", 9),
    harness.Column("per second", 12, ".1f"),
    harness.Column("p50 ms", 9, ".1f"),
    harness.Column("p95 ms", 9, ".1f"),
    harness.Column("p99 ms", 9, ".1f"),
)


def print_table(rows: list[tuple[str, dict[str, float | int]]]) -> None:
    """One line per (phase, summary): count, rate and percentiles."""
    harness.print_table(
        COLUMNS,
        [(name, row["requests"], row["per_s"], row["p50_ms"], row["p95_ms"], row["p99_ms"]) for name, row in rows],
    )


# ------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    """The command line; see --help."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per phase")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds of warm-up per phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker")
    parser.add_argument("--keep-alive", type=int, default=5, help="gthread keep-alive seconds")
    args = parser.parse_args()
    if not (1 <= args.clients <= 256 and 1 <= args.duration <= 300 and 0 <= args.warmup <= 60):
        parser.error("clients 1-256, duration 1-300 s, warmup 0-60 s")
    if not 1 <= args.workers <= 16 or not 1 <= args.threads <= 64:
        parser.error("workers 1-16, threads 1-64")
    if args.worker_class == "sync":
        args.threads, args.keep_alive = 1, 0  # sync workers never keep a connection open
    return args


def main() -> int:
    """Set up, run both phases, report; the exit status as the module docstring says."""
    args = parse_args()
    options = harness.ServerOptions(args.workers, args.worker_class, args.threads, args.keep_alive)
    with harness.bench_setup(
        database=BENCH_DATABASE,
        redis_url=REDIS_URL,
        queue_prefix=QUEUE_PREFIX,
        config_toml=CONFIG_TOML,
        workdir_prefix="confide-bench-",
    ) as setup:
        port = harness.free_port()
        served = (
            f"{options.threads} thread(s) each, keep-alive {options.keep_alive} s"
            if options.worker_class == "gthread"
            else "one request at a time each, connection closed after each answer"
        )
        print(
            f"gunicorn: {options.workers} workers, worker class {options.worker_class}, {served}; "
            f"{args.clients} clients; {args.warmup:g} s warm-up + {args.duration:g} s per phase",
            flush=True,
        )
        with harness.gunicorn(
            options, setup.env, setup.workdir, port, "/bench/baseline", "bench.baseline:app_with_baseline()"
        ) as server:
            workers = harness.worker_pids(server.pid)
            phases = {"baseline": baseline_pair, "submission": submission_pair}
            results: dict[str, tuple[Tally, float, dict[str, float]]] = {}
            for seed, (name, scenario) in enumerate(phases.items(), start=1):
                warm, _ = run_phase(port, scenario, args.clients, args.warmup, False, seed)
                if warm.errors:
                    results[name] = (warm, 0.0, {})
                    break
                before = harness.cpu_snapshot(workers, redis=True, per_worker=True)
                tally, elapsed = run_phase(port, scenario, args.clients, args.duration, True, seed + 10)
                after = harness.cpu_snapshot(workers, redis=True, per_worker=True)
                cpu = cpu_per_pair(before, after, len(tally.pairs), elapsed)
                results[name] = (tally, elapsed, cpu)
                print(f"  {name}: done in {elapsed:.1f} s", flush=True)
                if tally.errors:
                    break
        return report(args, options, results, harness.app_log_errors(setup.workdir))


def report(
    args: argparse.Namespace,
    options: harness.ServerOptions,
    results: dict[str, tuple[Tally, float, dict[str, float]]],
    app_errors: list[str],
) -> int:
    """Print the table, the CPU lines and the targets, then the JSON line; returns the
    exit status."""
    rows = []
    figures: dict[str, object] = {
        "bench": "intake",
        "clients": args.clients,
        "duration_s": args.duration,
        "gunicorn": {
            "workers": options.workers,
            "worker_class": options.worker_class,
            "threads": options.threads,
            "keep_alive_s": options.keep_alive,
        },
        "cpus": os.cpu_count(),
    }
    errors = 0
    for name, (tally, elapsed, cpu) in results.items():
        errors += tally.errors
        if not elapsed:
            continue
        pair, post = harness.summary(tally.pairs, elapsed), harness.summary(tally.posts, elapsed)
        rows += [(f"{name} (GET+POST)", pair), (f"{name} POST only", post)]
        figures[name] = {
            **pair,
            "post_p50_ms": post["p50_ms"],
            "post_p95_ms": post["p95_ms"],
            "post_p99_ms": post["p99_ms"],
            "elapsed_s": round(elapsed, 2),
            "retries": tally.reconnects,
            "cpu": cpu,
        }
    print()
    print_table(rows)
    print()
    for name, (_, _elapsed, cpu) in results.items():
        if cpu:
            print(
                f"CPU per {name} pair: gunicorn {cpu['gunicorn_ms_per_pair']} ms, postgres "
                f"{cpu['postgres_ms_per_pair']} ms, redis {cpu['redis_ms_per_pair']} ms, bench "
                f"clients {cpu['bench_ms_per_pair']} ms, other processes {cpu['other_ms_per_pair']} ms; "
                f"machine busy {cpu['machine_busy_cores']} of {os.cpu_count()} CPUs; busiest "
                f"worker did {cpu['busiest_worker_share']:.0%} of the work"
            )
            if options.workers > 1 and cpu["busiest_worker_share"] > 1.5 / options.workers:
                print(f"  WARNING: {name}: the workers shared the load unevenly; capacity is understated")
            if cpu["other_ms_per_pair"] > 0.25 * cpu["gunicorn_ms_per_pair"]:
                print(f"  WARNING: {name}: other processes used much CPU meanwhile; figures are noisy")
    figures["errors"] = errors
    figures["log_errors"] = len(app_errors)
    status = 0
    base, sub = figures.get("baseline"), figures.get("submission")
    if isinstance(base, dict) and isinstance(sub, dict) and base["per_s"]:
        ratio = round(sub["per_s"] / base["per_s"], 3)
        ratio_ok = ratio >= TARGET_RATIO
        p99_ok = sub["p99_ms"] < TARGET_P99_MS
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
        if not (ratio_ok and p99_ok):
            status = 2
    else:
        status = 1
    samples = {name: tally.samples for name, (tally, _, _) in results.items()}
    return harness.finish(figures, status, errors, app_errors, samples)


if __name__ == "__main__":
    sys.exit(main())
