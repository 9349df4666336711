"""Routing benchmark: from a filed report to its assigned responder, through real RQ workers.

It starts a fresh PostgreSQL database, Redis database 13, 50 responders and 2 coordinators
(tests/factories.py) and `python -m workers` processes, and removes them again, even on error.

* latency, one worker: reports filed one at a time, from the commit of each to its route_case
  job's result, beside a no-op job from its enqueue to its result (the baseline): p50, p95, ratio;
* throughput: ``--cases`` reports filed with no worker running, then 1 worker, later 2 (fresh
  cases), timed until no case waits: cases per second; each case must be routed exactly once.

Run from the repository root: `.venv/bin/python bench/routing.py` (``--quick``: a short run).
The last line is one JSON object with every figure; exit status 0 all routed, 1 errors.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.results import Result
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import create_app
from app.cases.content import ContactDetails
from app.extensions import db
from app.staff.models import Training
from app.triage.queue import queue_names
from bench import harness
from tests.factories import make_case, make_staff

BENCH_DATABASE = "confide_bench_routing"
REDIS_URL = os.environ.get("CONFIDE_BENCH_ROUTING_REDIS_URL", "redis://127.0.0.1:6379/13")
QUEUE_PREFIX = "confide-bench-routing"
RESPONDERS = 50
# The no-op job: the workers run only Confide's jobs (workers/listed.py), and the lightest is
# a deadline check of a case that does not exist (a job context and one primary-key read).
NOOP_JOB = "workers.jobs.check_deadline"
# Between jobs in the latency phase: each finds the worker idle, as reports far apart do.
LATENCY_GAP_S = 0.05
# A throughput phase fails when no case has been routed for this long (stuck workers).
STALL_S = 60.0


def in_process_app(env: dict[str, str]) -> Any:
    """The app in this process, configured exactly as the workers are (same environment)."""
    for key in [k for k in os.environ if k.startswith(("CONFIDE_", "FLASK_"))]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith(("CONFIDE_", "FLASK_"))})
    return create_app()


def seed_staff(responders: int = RESPONDERS) -> None:
    """Responders any case can go to (both languages, trained for every category, a cap no
    run reaches), and two coordinators, one on call."""
    today = date.today()
    valid = {"completed_on": today, "expires_on": today + timedelta(days=365)}
    for n in range(2):
        make_staff("coordinator", on_duty=n == 0)
    for _ in range(responders):
        staff = make_staff("responder", languages=("en", "es"), caseload_cap=100_000)
        db.session.add(Training(staff_id=staff.id, course="Peer support", category="all", **valid))
    db.session.commit()


def file_report(rng: random.Random) -> str:
    """File a report as people write them (one in four named, one in thirty in danger now)
    through the intake service: scored, sealed, committed, then queued. Returns the case id."""
    named = rng.random() < 0.25
    weights = harness.CATEGORY_WEIGHTS
    case_id = make_case(
        category=rng.choices(list(weights), weights=list(weights.values()))[0],
        narrative=" ".join(rng.sample(harness.SENTENCES, rng.randint(3, 6))),
        language="es" if rng.random() < 0.2 else "en",
        contact=ContactDetails(name="A reporter", email="reporter@example.org") if named else None,
        consent={"legal_referral": rng.random() < 0.3, "contact_email": named},
        perpetrator=rng.choice(["client", "employer", "coworker", ""]),
        setting=rng.choice(["clinic", "franchise", "outcall", "hotel", ""]),
        when=rng.choice(["72h", "week", "month", "year", ""]),
        danger_now="yes" if rng.random() < 0.03 else rng.choice(["no", "no", "unsure", ""]),
        injured=rng.choice(["no", "no", "unsure", "yes", ""]),
        ongoing=rng.choice(["yes", "no", "unsure", ""]),
        wants=tuple(rng.sample(["peer", "legal", "licensing", "record_only"], rng.randint(0, 2))),
    ).id
    db.session.remove()
    return case_id


@contextmanager
def running_workers(setup: harness.Setup, count: int, label: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` `python -m workers` processes, their output in the work folder; stopped
    with SIGTERM (each finishes the job in hand), then KILL, however the block ends."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(count):
            with open(setup.workdir / f"worker-{label}-{n}.log", "wb") as out:
                command = [sys.executable, "-m", "workers"]
                processes.append(
                    subprocess.Popen(command, cwd=ROOT, env=setup.env, stdout=out, stderr=subprocess.STDOUT)
                )
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def check_alive(processes: list[subprocess.Popen[bytes]], setup: harness.Setup, label: str) -> None:
    """Stop the run if a worker died; its log says why."""
    for n, process in enumerate(processes):
        if process.poll() is not None:
            log = (setup.workdir / f"worker-{label}-{n}.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"worker {label}-{n} exited with status {process.returncode}:\n{log}")


def queues(redis: Redis) -> list[Queue]:
    return [Queue(name, connection=redis, serializer="json") for name in queue_names()]


def seconds_to_result(redis: Redis, job_id: str, start: float, expect: str) -> float:
    """Block until RQ has stored ``job_id``'s result (an entry in its result stream, so no
    polling); returns the seconds since ``start``. The job must have returned ``expect``."""
    if not redis.xread({Result.get_key(job_id): "0-0"}, count=1, block=30_000):
        raise harness.ClientError(f"job {job_id}: no result within 30 s")
    took = time.perf_counter() - start
    job = Job.fetch(job_id, connection=redis, serializer="json")
    if job.get_status() != JobStatus.FINISHED or job.return_value() != expect:
        raise harness.ClientError(f"job {job_id}: {job.get_status()}, returned {job.return_value()!r}")
    return took


def run_latency(setup: harness.Setup, redis: Redis, samples: int, seed: int) -> tuple[dict[str, Any], list[str]]:
    """One worker; 5 unmeasured pairs (it starts the app and sweeps first), then ``samples``
    pairs of a routing and a no-op job, one job at a time, alternating which goes first.
    Returns the figures and the errors."""
    rng = random.Random(seed)
    commits: list[float] = []
    default_queue = queues(redis)[1]
    times: dict[str, list[float]] = {"route": [], "noop": []}
    errors: list[str] = []

    def on_commit(session: Session) -> None:
        commits.append(time.perf_counter())

    def route(n: int) -> float:
        commits.clear()
        case_id = file_report(rng)
        # The last commit before the job was queued is when a worker could first see the case.
        return seconds_to_result(redis, f"route-{case_id}", commits[-1], "assigned")

    def noop(n: int) -> float:
        job_id, start = f"bench-noop-{n}", time.perf_counter()
        # With enqueue_route's options (app/triage/queue.py).
        options = {"job_id": job_id, "result_ttl": 3600, "failure_ttl": 7 * 86400, "description": "noop"}
        default_queue.enqueue(NOOP_JOB, f"no-such-case-{n}", 1, **options)
        return seconds_to_result(redis, job_id, start, "missing")

    pair = [("route", route), ("noop", noop)]
    event.listen(Session, "after_commit", on_commit)
    try:
        with running_workers(setup, 1, "latency") as processes:
            for n in range(-5, samples):
                check_alive(processes, setup, "latency")
                for kind, job in pair if n % 2 == 0 else pair[::-1]:
                    time.sleep(LATENCY_GAP_S)
                    try:
                        (times[kind] if n >= 0 else []).append(job(n))
                    except harness.ClientError as error:
                        errors.append(str(error))
                        if len(errors) > 10:
                            raise SystemExit(f"latency phase: too many errors: {errors}") from error
    finally:
        event.remove(Session, "after_commit", on_commit)
    figures: dict[str, Any] = {"errors": len(errors)}
    for kind, values in times.items():
        ordered = sorted(values)
        p50, p95 = (round(harness.percentile(ordered, p), 1) for p in (50, 95))
        figures[kind] = {"samples": len(ordered), "p50_ms": p50, "p95_ms": p95}
    for p in ("p50", "p95"):
        figures[f"ratio_{p}"] = round(figures["route"][f"{p}_ms"] / figures["noop"][f"{p}_ms"], 2)
    return figures, errors


def count(conn: psycopg.Connection[Any], query: str, *params: object) -> int:
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def run_throughput(setup: harness.Setup, redis: Redis, workers: int, cases: int, seed: int) -> dict[str, Any]:
    """File ``cases`` reports with no worker running, start ``workers`` workers together and
    time them until no case waits; then check that each case was routed exactly once."""
    with psycopg.connect(harness.pg_url(BENCH_DATABASE, "postgresql"), autocommit=True) as conn:
        # Every phase starts from the same state: the cases routed so far closed and their
        # notices sent, as responders and the digest would.
        conn.execute(
            "UPDATE cases SET status = 'closed', queue_rank = 3, closed_reason = NULL "
            "WHERE routing_state <> 'intake' AND queue_rank <> 3"
        )
        conn.execute("UPDATE notifications SET sent_at = now() WHERE sent_at IS NULL")
        rng = random.Random(seed)
        ids = [file_report(rng) for _ in range(cases)]
        conn.execute("VACUUM ANALYZE")
        failed_before = sum(queue.failed_job_registry.count for queue in queues(redis))
        label, waiting = f"throughput-{workers}", cases
        start = last_routed = now = time.perf_counter()
        with running_workers(setup, workers, label) as processes:
            while waiting:
                time.sleep(0.25)
                check_alive(processes, setup, label)
                before, waiting = waiting, count(conn, "SELECT count(*) FROM cases WHERE routing_state = 'intake'")
                now = time.perf_counter()
                if waiting < before:
                    last_routed = now
                elif now - last_routed > STALL_S:
                    raise SystemExit(f"throughput phase {label}: {waiting:,} cases wait; none routed for {STALL_S:g} s")
        not_routed_once = count(
            conn,
            "SELECT count(*) FROM cases c WHERE c.id = ANY(%s) AND (c.routing_state <> 'assigned' "
            "OR (SELECT count(*) FROM routing_rounds r WHERE r.case_id = c.id) <> 1)",
            ids,
        )
    # Jobs the workers' start-up sweeps queued again for cases routed meanwhile: they would do nothing.
    for queue in queues(redis):
        queue.empty()
    return {
        "cases": cases,
        "workers": workers,
        "routed_s": round(now - start, 2),
        "per_s": round(cases / (now - start), 1),
        "not_routed_once": not_routed_once,
        "failed_jobs": sum(queue.failed_job_registry.count for queue in queues(redis)) - failed_before,
    }


COLUMNS = (
    harness.Column("", 30),
    *(harness.Column(title, 10, ".1f") for title in ("p50 ms", "p95 ms", "routed s", "cases/s")),
    harness.Column("cases", 8),
)


def print_table(latency: dict[str, Any], throughput: dict[str, Any]) -> None:
    route, noop = latency["route"], latency["noop"]
    rows: list[tuple[object, ...]] = [
        ("routing, commit → result", route["p50_ms"], route["p95_ms"]),
        ("no-op job, enqueue → result", noop["p50_ms"], noop["p95_ms"]),
        ("routing ÷ no-op", f"{latency['ratio_p50']:.2f}", f"{latency['ratio_p95']:.2f}"),
    ]
    for key, entry in throughput.items():
        rows.append((f"throughput, {key}", None, None, entry["routed_s"], entry["per_s"], entry["cases"]))
    print(f"\nlatency with 1 worker: {route['samples']} routings, {noop['samples']} no-op jobs")
    harness.print_table(COLUMNS, rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run: 40 samples, 1,000 cases")
    parser.add_argument("--samples", type=int, help="latency samples of each kind (default 200)")
    parser.add_argument("--cases", type=int, help="cases per throughput phase (default 10,000)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    args.samples = args.samples or (40 if args.quick else 200)
    args.cases = args.cases or (1_000 if args.quick else 10_000)
    if not (10 <= args.samples <= 5_000 and 100 <= args.cases <= 200_000):
        parser.error("samples 10-5,000, cases 100-200,000")
    return args


def run(args: argparse.Namespace, setup: harness.Setup, redis: Redis) -> int:
    seed_staff()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; latency, 1 worker …", flush=True)
    latency, latency_errors = run_latency(setup, redis, args.samples, args.seed)
    throughput: dict[str, Any] = {}
    for workers, key in ((1, "1 worker"), (2, "2 workers")):
        print(f"throughput, {args.cases:,} cases, {key} …", flush=True)
        throughput[key] = run_throughput(setup, redis, workers, args.cases, args.seed + 100 + workers)
    print_table(latency, throughput)
    errors = len(latency_errors) + sum(e["not_routed_once"] + e["failed_jobs"] for e in throughput.values())
    app_errors = harness.app_log_errors(setup.workdir)
    figures = {
        "bench": "routing",
        "cpus": os.cpu_count(),
        "samples": args.samples,
        "cases": args.cases,
        "responders": RESPONDERS,
        "latency": latency,
        "throughput": throughput,
        "load_average_end": round(os.getloadavg()[0], 2),
        "errors": errors,
        "log_errors": len(app_errors),
    }
    return harness.finish(figures, 0, errors, app_errors, {"latency": latency_errors[:5]})


def main() -> int:
    args = parse_args()
    # SIGTERM ends the run as Ctrl-C does, through the clean-up below and bench_setup's.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Redis.from_url(REDIS_URL, socket_timeout=5) as redis:
        if redis.dbsize():  # tests or another benchmark may be using it
            raise SystemExit(f"{REDIS_URL} is not empty: set CONFIDE_BENCH_ROUTING_REDIS_URL to an unused database")
    with (
        harness.bench_setup(
            database=BENCH_DATABASE,
            redis_url=REDIS_URL,
            queue_prefix=QUEUE_PREFIX,
            config_toml="# Written by bench/routing.py for one run; removed afterwards.\n",
            workdir_prefix="confide-bench-routing-",
        ) as setup,
        Redis.from_url(REDIS_URL, socket_timeout=60) as redis,
        in_process_app(setup.env).app_context(),
    ):
        try:
            return run(args, setup, redis)
        finally:
            # The app's connections go before bench_setup drops the database.
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
