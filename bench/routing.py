"""Routing benchmark, through real RQ workers: `.venv/bin/python bench/routing.py [--quick]`.
With 50 responders and 2 coordinators: latency with one worker, from each report's commit to its
route_case job's result, beside the lightest job the workers run (a deadline check of no case)
from enqueue to result, the baseline; throughput: --cases (10,000; --quick 1,000) filed with no
worker, then 1, then 2 workers, timed until none waits, each routed exactly once. Exit 0 or 1."""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rq import Queue
from rq.job import Job, JobStatus
from rq.results import Result
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from app.cases.content import ContactDetails
from app.extensions import db
from app.triage.queue import queue_names
from bench import harness
from tests.factories import make_case

RESPONDERS, LATENCY_GAP_S, STALL_S = 50, 0.05, 60.0  # gap: each job finds the worker idle


def file_report(rng: random.Random) -> str:
    """A report as people write them (one in four named, one in thirty in danger now), filed
    through the intake service: scored, sealed, committed, then queued. Returns the case id."""
    named = rng.random() < 0.25
    case_id = make_case(
        category=harness.category(rng),
        narrative=harness.story(rng, "en", rng.randint(200, 600)),
        language="es" if rng.random() < 0.2 else "en",
        contact=ContactDetails(name="A reporter", email="reporter@example.org") if named else None,
        consent={"legal_referral": rng.random() < 0.3, "contact_email": named},
        perpetrator=rng.choice(["client", "employer", "coworker", ""]),
        danger_now="yes" if rng.random() < 0.03 else rng.choice(["no", "no", "unsure", ""]),
        wants=tuple(rng.sample(["peer", "legal", "licensing", "record_only"], rng.randint(0, 2))),
    ).id
    db.session.remove()
    return case_id


@contextmanager
def workers(setup: harness.Setup, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` `python -m workers`, stopped with SIGTERM (each finishes its job) at the end."""
    log = open(setup.workdir / "workers.log", "ab")  # noqa: SIM115
    command = [sys.executable, "-m", "workers"]
    started = [subprocess.Popen(command, cwd=harness.ROOT, env=setup.env, stdout=log, stderr=log) for _ in range(count)]
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=30)
        log.close()
    if any(process.returncode not in (0, -15) for process in started):
        raise SystemExit(f"a worker failed:\n{(setup.workdir / 'workers.log').read_text()[-3000:]}")


def result_after(setup: harness.Setup, job_id: str, start: float, expect: str) -> float:
    """Seconds from ``start`` until RQ stored the job's result (read from its stream, no
    polling); the job must have returned ``expect``."""
    if not setup.redis.xread({Result.get_key(job_id): "0-0"}, count=1, block=30_000):
        raise SystemExit(f"job {job_id}: no result within 30 s")
    took = time.perf_counter() - start
    job = Job.fetch(job_id, connection=setup.redis, serializer="json")
    if job.get_status() != JobStatus.FINISHED or job.return_value() != expect:
        raise SystemExit(f"job {job_id}: {job.get_status()}, returned {job.return_value()!r}")
    return took


def latency(setup: harness.Setup, samples: int, rng: random.Random) -> dict[str, Any]:
    """Pairs of a routing and a baseline job, one job at a time, in turn first; 5 unmeasured."""
    commits: list[float] = []
    queue = Queue(queue_names()[1], connection=setup.redis, serializer="json")
    times: dict[str, list[float]] = {"route": [], "noop": []}

    def route(n: int) -> float:
        case_id = file_report(rng)  # the last commit before it was queued: when a worker could see it
        return result_after(setup, f"route-{case_id}", commits[-1], "assigned")

    def noop(n: int) -> float:  # with enqueue_route's options (app/triage/queue.py)
        start, options = time.perf_counter(), {"result_ttl": 3600, "failure_ttl": 7 * 86400}
        queue.enqueue("workers.jobs.check_deadline", f"no-such-case-{n}", 1, job_id=f"noop-{n}", **options)
        return result_after(setup, f"noop-{n}", start, "missing")

    event.listen(Session, "after_commit", lambda _: commits.append(time.perf_counter()))
    with workers(setup, 1):
        for n in range(-5, samples):
            for kind, job in [("route", route), ("noop", noop)][:: 1 if n % 2 else -1]:
                time.sleep(LATENCY_GAP_S)
                (times[kind] if n >= 0 else []).append(job(n))
    figures: dict[str, Any] = {kind: harness.percentiles(values) for kind, values in times.items()}
    return figures | {
        f"ratio_{p}": round(figures["route"][f"{p}_ms"] / figures["noop"][f"{p}_ms"], 2) for p in ("p50", "p95")
    }


def throughput(setup: harness.Setup, count: int, cases: int, rng: random.Random) -> dict[str, Any]:
    """``cases`` filed with no worker, then ``count`` workers timed until none waits."""
    waiting = "SELECT count(*) FROM cases WHERE routing_state = 'intake'"
    # Each phase starts alike: the cases routed so far closed and their notices sent.
    db.session.execute(text("UPDATE cases SET status = 'closed', queue_rank = 3 WHERE routing_state <> 'intake'"))
    db.session.execute(text("UPDATE notifications SET sent_at = now() WHERE sent_at IS NULL"))
    db.session.commit()
    ids = [file_report(rng) for _ in range(cases)]
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would soon: plans for the cases now there
    queues = [Queue(name, connection=setup.redis) for name in queue_names()]
    failed = sum(queue.failed_job_registry.count for queue in queues)
    start = last = time.perf_counter()
    with workers(setup, count):
        left = cases
        while left:
            time.sleep(0.25)
            before, left = left, db.session.scalar(text(waiting)) or 0
            db.session.rollback()  # the next count sees what the workers committed since
            if left < before:
                last = time.perf_counter()
            elif time.perf_counter() - last > STALL_S:
                log = (setup.workdir / "workers.log").read_text()[-2000:]
                raise SystemExit(f"{left:,} cases wait; none routed for {STALL_S:g} s:\n{log}")
        took = time.perf_counter() - start
    once = "SELECT count(*) FROM cases c WHERE c.id = ANY(:ids) AND c.routing_state = 'assigned' AND"
    once += " (SELECT count(*) FROM routing_rounds r WHERE r.case_id = c.id) = 1"
    figures = {"cases": cases, "routed_s": round(took, 2), "per_s": round(cases / took, 1)}
    figures |= {"routed_once": db.session.scalar(text(once), {"ids": ids})}
    figures |= {"failed_jobs": sum(queue.failed_job_registry.count for queue in queues) - failed}
    for queue in queues:  # jobs the start-up sweeps queued again for cases routed meanwhile
        queue.empty()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--samples", type=int, help="latency samples of each kind (200)")
    parser.add_argument("--cases", type=int, help="cases per throughput phase (10,000)")
    args = parser.parse_args()
    samples, cases = args.samples or (40 if args.quick else 200), args.cases or (1_000 if args.quick else 10_000)
    rng = random.Random(11)
    with harness.bench_setup("routing", 13, in_process=True) as setup:
        harness.seed_responders(RESPONDERS)
        print(f"latency, 1 worker, {samples} samples of each …", flush=True)
        figures: dict[str, Any] = {"bench": "routing", "cpus": os.cpu_count(), "latency": latency(setup, samples, rng)}
        for count in (1, 2):
            print(f"throughput, {cases:,} cases, {count} worker(s) …", flush=True)
            figures[f"throughput_{count}"] = throughput(setup, count, cases, rng)
        route, noop = figures["latency"]["route"], figures["latency"]["noop"]
        rows: list[list[object]] = [["routing, commit → result", route["p50_ms"], route["p95_ms"]]]
        rows += [["baseline job, enqueue → result", noop["p50_ms"], noop["p95_ms"]]]
        rows += [["routing ÷ baseline", figures["latency"]["ratio_p50"], figures["latency"]["ratio_p95"]]]
        rows += [[f"throughput, {n} worker(s)", None, None, figures[f"throughput_{n}"]["per_s"]] for n in (1, 2)]
        harness.table(["", "p50 ms", "p95 ms", "cases/s"], rows)
        runs = [figures[f"throughput_{n}"] for n in (1, 2)]
        wrong = [f"{t['cases'] - t['routed_once']} not routed once, {t['failed_jobs']} jobs failed" for t in runs]
        wrong = [w for w in wrong if not w.startswith("0 not routed once, 0 ")]
        return harness.finish(figures, 0, wrong, setup.workdir)


if __name__ == "__main__":
    sys.exit(main())
