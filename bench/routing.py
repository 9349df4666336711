"""Routing benchmark: from a committed report to an assigned responder, through real RQ workers.

Run from the repository root:

    .venv/bin/python bench/routing.py            (--quick for a short run)

It starts everything it needs and removes it again, even on error:

* a fresh PostgreSQL database ``confide_bench_routing`` (dropped at the end), migrated with
  `flask db upgrade`,
* a keyring, a config file and a log file in a temporary folder,
* Redis database 13 (flushed before and after; the run refuses to start if it holds
  anything) with its own queue prefix,
* the workers, `python -m workers` (RQ's SimpleWorker: jobs in its own process; no clock),
  started with the app's environment (and, for the comparison, a config file of their
  own) and stopped (SIGTERM, as a deployment does) after each phase.

THE STAFF. 50 responders, each active, enrolled, on duty, speaking English and Spanish,
trained for every category (a course "all", valid for a year) and with a caseload cap of
100,000, so that every case can be assigned; and 2 coordinators, one on call.

THE CASES. Reports as people write them (a category, a narrative from harness.SENTENCES,
the usual optional answers; a few in danger now), filed by this process through the real
intake service, app.intake.services.submit_report: scored, sealed under a data key of
their own, committed, then queued with the real enqueue_route.

THE PHASES.

* latency: one worker. Reports are filed one at a time, each waiting for the one before
  to be routed, with a pause between (reports arrive far apart); "routing" is from the
  commit of the case (a SQLAlchemy after_commit hook in this process) until the result of
  its route_case job is in Redis (a blocking XREAD on RQ's result stream, so no polling),
  by when the assignment is committed; every case is then checked to be assigned. Beside
  each, interleaved, a no-op job (``os.getpid`` by name, on the default queue, with
  enqueue_route's options) is timed from enqueue to its result the same way. Ratio:
  routing ÷ no-op at p50 and p95. RQ's own timestamps split both into waiting for the
  worker (enqueued → started), the job body (started → ended) and the bookkeeping after
  (ended → seen).
* no-op jobs: as many no-op jobs as cases, queued, then 1 worker, later 2, timed until
  all have run: RQ's own ceiling for one job per case.
* throughput: ``--cases`` reports are filed and queued with no worker running (not timed);
  then 1 worker, later 2 (fresh cases), are started together and timed until no case
  waits. A route job routes its own case and up to ``triage.route_batch`` (50) waiting
  cases in all, and withdraws their jobs from the queue (app/triage/routing.py); jobs a
  worker took before they were withdrawn find their case routed. Jobs run are counted
  from the workers' logs, jobs withdrawn from the app's log, jobs left in the queues are
  counted and removed once the workers have stopped. CPU per case is counted for the
  workers, the PostgreSQL server (with its ended backends), Redis, this script and
  everything else on the machine. While they run, the share of moments at which a
  worker's backend waits for a lock is sampled. Before each throughput phase every routed
  case is closed and every notice marked sent, as responders and the digest job would,
  and the database vacuumed and analyzed, so every phase starts from the same state.
* the same throughput phases with ``route_batch = 1``: one case per job and per
  transaction, as routing was before batches, to show what they gain. --batch-only
  leaves them out.
* in-process profile (no RQ): the job body workers.jobs.route_case run in this process,
  warm, with its SQL statements counted and timed: for a case filed when nothing else
  waits (the latency phase's case), and for a backlog of ``route_batch`` cases routed by
  one job. Once on a light database (after the latency phase) and once right after the
  last throughput phase, before its clean-up (``--cases`` more open cases and unsent
  notices).

Targets: routing p95 < 250 ms with `python -m workers`; at least 200 cases routed per second
with 2 of them (from their start until the last case is routed). The last line printed is
one JSON object with every figure. Exit status: 0 targets met, 1 errors during the run,
2 targets missed.

PostgreSQL: CONFIDE_BENCH_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/test)
names a database to connect to for CREATE/DROP DATABASE. Redis: CONFIDE_BENCH_ROUTING_REDIS_URL
(default redis://127.0.0.1:6379/13); it is flushed, so the run stops at once if it is not empty.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this script's folder first on sys.path, where bench/queue.py would shadow the
# standard library's queue module; take the folder off before anything else is imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import os
import random
import re
import resource
import secrets
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue  # noqa: E402

from bench import harness  # noqa: E402

if TYPE_CHECKING:
    from app.intake.services import Submission

BENCH_DATABASE = "confide_bench_routing"
REDIS_URL = os.environ.get("CONFIDE_BENCH_ROUTING_REDIS_URL", "redis://127.0.0.1:6379/13")
QUEUE_PREFIX = "confide-bench-routing"

TARGET_P95_MS = 250.0
TARGET_CASES_PER_S = 200.0

RESPONDERS = 50
CASELOAD_CAP = 100_000
PASSWORD = "quiet lantern orchard 47"
# A job RQ runs by name, with nothing to do: the no-op of the latency baseline.
NOOP_JOB = "os.getpid"
# Between one report and the next in the latency phases: reports arrive far apart, so each
# one finds the worker idle, waiting on Redis.
LATENCY_GAP_S = 0.05

CONFIG_TOML = """\
# Written by bench/routing.py for one run; removed afterwards.
"""


# --------------------------------------------------------------------------- the setup


def in_process_app(env: dict[str, str]) -> Any:
    """The app in this process, configured exactly as the workers' (same environment)."""
    for key in list(os.environ):
        if key.startswith(("CONFIDE_", "FLASK_")):
            del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith(("CONFIDE_", "FLASK_"))})
    from app import create_app

    return create_app()


def seed_staff(responders: int) -> None:
    """``responders`` responders every case can go to, and 2 coordinators (one on call),
    enrolled as tests/factories.py make_staff enrols them (one real argon2 hash for all,
    a TOTP secret of their own, sealed)."""
    from app.extensions import db
    from app.keystore import current_keyring
    from app.models import utcnow
    from app.staff import credentials
    from app.staff.models import StaffUser, Training

    ring = current_keyring()
    password_hash = credentials.hash_password(PASSWORD)
    today = date.today()
    people = [("coordinator", f"coordinator-{i}", i == 0) for i in range(2)]
    people += [("responder", f"responder-{i:02d}", True) for i in range(responders)]
    for role, name, on_duty in people:
        user = StaffUser(
            email=f"{name}@example.org",
            name=name.replace("-", " ").title(),
            role=role,
            pseudonym=name.title() if role == "responder" else None,
            languages=["en", "es"],
            on_duty=on_duty,
            caseload_cap=CASELOAD_CAP,
            password_hash=password_hash,
            enrolled_at=utcnow() - timedelta(days=400),
        )
        db.session.add(user)
        db.session.flush()
        user.totp_sealed = credentials.seal_totp(ring, user.id, credentials.new_totp_secret())
        if role == "responder":
            db.session.add(
                Training(
                    staff_id=user.id,
                    course="Trauma-informed peer support",
                    category="all",
                    completed_on=today - timedelta(days=30),
                    expires_on=today + timedelta(days=365),
                )
            )
    db.session.commit()


# ------------------------------------------------------------------------ the reports

CATEGORY_WEIGHTS = harness.CATEGORY_WEIGHTS


def report(rng: random.Random, n: int) -> Submission:
    """One realistic intake.Submission: a category, a narrative of a few sentences, some
    optional answers, about one in four named; about one in thirty in danger now."""
    from app.cases.content import ContactDetails, ReportContent
    from app.intake.services import Submission

    category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
    content = ReportContent(
        narrative=" ".join(rng.sample(harness.SENTENCES, rng.randint(3, 6))),
        perpetrator=rng.choice(["client", "employer", "coworker", ""]),
        setting=rng.choice(["clinic", "franchise", "outcall", "hotel", ""]),
        when=rng.choice(["72h", "week", "month", "year", ""]),
        danger_now="yes" if rng.random() < 0.03 else rng.choice(["no", "no", "unsure", ""]),
        injured=rng.choice(["no", "no", "unsure", "yes", ""]),
        ongoing=rng.choice(["yes", "no", "unsure", ""]),
        wants=tuple(rng.sample(["peer", "legal", "licensing", "record_only"], rng.randint(0, 2))),
    )
    contact = None
    if rng.random() < 0.25:
        contact = ContactDetails(
            name=f"Reporter {n}",
            email=f"reporter{n}@example.org",
            phone="860-555-0100",
            safe_times="Weekdays after 6 pm",
            voicemail_ok="no",
            code_word="bluebird",
        )
    return Submission(
        category=category,
        language="es" if rng.random() < 0.2 else "en",
        content=content,
        submission_token=secrets.token_urlsafe(16),
        county=rng.choice(["hartford", "new_haven", "fairfield", "outside", ""]),
        contact=contact,
        consent={"peer_support": True, "legal_referral": rng.random() < 0.3, "contact_email": contact is not None},
    )


class CommitClock:
    """When this process's sessions last committed (perf_counter and wall clock), from
    SQLAlchemy's after_commit event: the moment a filed case became visible to a worker."""

    def __init__(self) -> None:
        self.at: tuple[float, float] | None = None

    def __enter__(self) -> CommitClock:
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        event.listen(Session, "after_commit", self._committed)
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        event.remove(Session, "after_commit", self._committed)

    def _committed(self, session: Any) -> None:
        self.at = (time.perf_counter(), time.time())


def file_reports(count: int, rng: random.Random, start: int) -> list[str]:
    """File ``count`` reports through the intake service (each committed and queued);
    returns their case ids."""
    from app.extensions import db
    from app.intake.services import submit_report

    ids = []
    for n in range(start, start + count):
        ids.append(submit_report(report(rng, n)).case_id)
        db.session.remove()
    return ids


# ------------------------------------------------------------------------- the workers


@dataclass(frozen=True)
class WorkerKind:
    """A way to run the workers: its key in the figures, its title, and the settings it
    adds to the bench's config file."""

    key: str
    title: str
    settings: str = ""


WORKERS = WorkerKind("workers", "python -m workers")
ONE_PER_JOB = WorkerKind("one_per_job", "route_batch = 1", "[triage]\nroute_batch = 1\n")


@contextmanager
def running_workers(
    kind: WorkerKind, count: int, setup: harness.Setup, label: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` worker processes of ``kind``, their output in the work folder; stopped with
    SIGTERM (each finishes the job in hand), then KILL, however the block ends."""
    env = setup.env
    if kind.settings:
        config = setup.workdir / f"confide-{kind.key}.toml"
        config.write_text(CONFIG_TOML + kind.settings)
        env = {**env, "CONFIDE_CONFIG": str(config)}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(count):
            with open(setup.workdir / f"worker-{label}-{n}.log", "wb") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "workers"],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield processes
    finally:
        stop_workers(processes)


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every worker still running, then wait for each (KILL after 30 s)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def worker_log_lines(setup: harness.Setup, label: str, text: str) -> int:
    """How many lines of the phase's worker logs contain ``text``."""
    return sum(path.read_text(errors="replace").count(text) for path in setup.workdir.glob(f"worker-{label}-*.log"))


def check_alive(processes: list[subprocess.Popen[bytes]], setup: harness.Setup, label: str) -> None:
    """Stop the run if a worker died: its log says why."""
    for n, process in enumerate(processes):
        if process.poll() is not None:
            log = (setup.workdir / f"worker-{label}-{n}.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"worker {label}-{n} exited with status {process.returncode}:\n{log}")


def queues(redis: Redis) -> list[Queue]:
    """The two queues the workers serve, urgent first (as app.triage.queue names them)."""
    return [Queue(f"{QUEUE_PREFIX}-{name}", connection=redis, serializer="json") for name in ("urgent", "default")]


def failed_jobs(redis: Redis) -> int:
    return sum(queue.failed_job_registry.count for queue in queues(redis))


# ------------------------------------------------------------------------ the latency


@dataclass
class Samples:
    """One kind of job in a latency phase: seconds per sample, and RQ's split of each."""

    total: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)

    def part(self, name: str, seconds: float) -> None:
        self.parts.setdefault(name, []).append(seconds)


def wait_for_result(redis: Redis, job_id: str, timeout_s: float = 30.0) -> None:
    """Block until RQ has stored a result for ``job_id`` (its result stream has an entry)."""
    from rq.results import Result

    if not redis.xread({Result.get_key(job_id): "0-0"}, count=1, block=int(timeout_s * 1000)):
        raise harness.ClientError(f"job {job_id}: no result within {timeout_s:g} s")


def job_split(redis: Redis, job_id: str, start_wall: float, seen_wall: float, samples: Samples) -> Any:
    """RQ's timestamps of a finished job, as parts of the time from ``start_wall`` to
    ``seen_wall``; returns the job's result."""
    from rq.job import Job, JobStatus

    job = Job.fetch(job_id, connection=redis, serializer="json")
    if job.get_status() != JobStatus.FINISHED or not (job.enqueued_at and job.started_at and job.ended_at):
        raise harness.ClientError(f"job {job_id}: {job.get_status()}")
    samples.part("to_enqueued", job.enqueued_at.timestamp() - start_wall)
    samples.part("enqueued_to_started", (job.started_at - job.enqueued_at).total_seconds())
    samples.part("started_to_ended", (job.ended_at - job.started_at).total_seconds())
    samples.part("ended_to_seen", seen_wall - job.ended_at.timestamp())
    result = job.latest_result()
    return result.return_value if result is not None else None


def route_sample(app: Any, redis: Redis, clock: CommitClock, rng: random.Random, n: int, samples: Samples) -> str:
    """File one report and wait for its routing; returns the case id."""
    from app.cases.models import Case
    from app.extensions import db
    from app.intake.services import submit_report

    clock.at = None
    case_id = submit_report(report(rng, n)).case_id
    db.session.remove()
    if clock.at is None:
        raise harness.ClientError("no commit seen while filing a report")
    committed, committed_wall = clock.at
    job_id = f"route-{case_id}"  # app.triage.queue names route jobs so
    wait_for_result(redis, job_id)
    samples.total.append(time.perf_counter() - committed)
    seen_wall = time.time()
    job_split(redis, job_id, committed_wall, seen_wall, samples)
    case = db.session.get(Case, case_id)
    if case is None or case.routing_state != "assigned" or case.queued_at is None:
        raise harness.ClientError(f"case {case_id}: {case.routing_state if case else 'missing'}, not assigned")
    # Where route_case began (its utcnow()), within the job body.
    samples.part("route_began", case.queued_at.timestamp() - committed_wall)
    db.session.remove()
    return case_id


def noop_sample(redis: Redis, queue: Queue, job_id: str, samples: Samples) -> None:
    """Enqueue one no-op job as enqueue_route enqueues, and wait for its result."""
    start, start_wall = time.perf_counter(), time.time()
    queue.enqueue(NOOP_JOB, job_id=job_id, result_ttl=3600, failure_ttl=7 * 86400, description="noop")
    wait_for_result(redis, job_id)
    samples.total.append(time.perf_counter() - start)
    job_split(redis, job_id, start_wall, time.time(), samples)


@dataclass
class LatencyResult:
    """One latency phase: the routings, the no-op jobs, and the samples that failed."""

    route: Samples
    noop: Samples
    errors: harness.Tally


def run_latency(
    app: Any, setup: harness.Setup, redis: Redis, kind: WorkerKind, samples: int, warmup: int, seed: int
) -> LatencyResult:
    """One worker; ``warmup`` then ``samples`` pairs of (routing, no-op), one at a time."""
    rng = random.Random(seed)
    route, noop, tally = Samples(), Samples(), harness.Tally()
    default_queue = queues(redis)[1]
    label = f"latency-{kind.key}"
    with running_workers(kind, 1, setup, label) as processes, CommitClock() as clock, app.app_context():
        # The worker is ready once it has run a first job (it starts the app and sweeps first).
        ready = Samples()
        for n in range(warmup):
            noop_sample(redis, default_queue, f"bench-noop-{kind.key}-warm-{n}", ready)
            route_sample(app, redis, clock, rng, 10_000_000 + n, Samples())
        for n in range(samples):
            check_alive(processes, setup, label)
            # Alternate which goes first, so that neither always follows the other.
            order = (0, 1) if n % 2 == 0 else (1, 0)
            for which in order:
                time.sleep(LATENCY_GAP_S)
                try:
                    if which == 0:
                        route_sample(app, redis, clock, rng, n, route)
                    else:
                        noop_sample(redis, default_queue, f"bench-noop-{kind.key}-{n}", noop)
                except harness.ClientError as error:
                    tally.error(str(error))
                    if tally.errors > 10:
                        raise SystemExit(f"latency phase {kind.key}: too many errors: {tally.samples}") from error
    return LatencyResult(route, noop, tally)


# --------------------------------------------------------------------- the throughput


def settle() -> None:
    """Close every routed case and mark every notice sent, as responders and the digest
    would, then VACUUM ANALYZE: each throughput phase starts from the same state."""
    with psycopg.connect(harness.pg_url(BENCH_DATABASE, "postgresql"), autocommit=True) as conn:
        conn.execute(
            "UPDATE cases SET status = 'closed', queue_rank = 3, closed_reason = NULL "
            "WHERE routing_state <> 'intake' AND queue_rank <> 3"
        )
        conn.execute("UPDATE notifications SET sent_at = now() WHERE sent_at IS NULL")
        conn.execute("VACUUM ANALYZE")


def postmaster_pid() -> int:
    """The process id of the PostgreSQL server the bench's database is on: the parent of
    a backend (other servers on the machine, and their clients, are not counted)."""
    with psycopg.connect(harness.pg_url(BENCH_DATABASE, "postgresql")) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        # Read while connected: the backend ends with its connection.
        return int((Path("/proc") / str(row[0]) / "stat").read_text().rsplit(")", 1)[1].split()[1])


def postgres_cpu(postmaster: int) -> float:
    """CPU seconds used so far by a PostgreSQL server: the postmaster, its processes, and
    the backends that have ended (in the postmaster's children's time). RQ's Worker opens
    a connection, so starts a backend, for every job."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(entry.name) == postmaster:
                ticks += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
            elif int(fields[1]) == postmaster:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / harness.CLOCK_TICKS


def cpu_now(postmaster: int) -> dict[str, float]:
    """CPU seconds so far: the bench's PostgreSQL server, Redis, this process, the machine
    (harness), and the children of this process that have ended (the workers, with their
    own children)."""
    snapshot = harness.cpu_snapshot([], redis=True)
    snapshot.pop("gunicorn", None)
    snapshot["postgres"] = postgres_cpu(postmaster)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    snapshot["workers"] = children.ru_utime + children.ru_stime
    return snapshot


def redis_commands(redis: Redis) -> int:
    """Commands the Redis server has run so far (all its clients; INFO commandstats)."""
    return sum(int(stats["calls"]) for stats in redis.info("commandstats").values())


@dataclass
class ThroughputResult:
    """One throughput phase: its times in seconds (from starting the workers), rates per
    second, jobs, and CPU milliseconds per case."""

    cases: int
    workers: int
    routed_s: float
    first_route_s: float
    steady_per_s: float
    first_half_per_s: float
    second_half_per_s: float
    jobs_run: int
    jobs_withdrawn: int
    jobs_left: int
    cpu_ms_per_case: dict[str, float]
    busy_cores: float
    redis_commands_per_case: float
    lock_wait_share: float
    not_assigned: int
    failed: int

    @property
    def per_s(self) -> float:
        return self.cases / self.routed_s if self.routed_s else 0.0

    @property
    def duplicates(self) -> int:
        """Jobs queued beyond one per case: the start-up sweeps' (run, withdrawn, or left)."""
        return self.jobs_run + self.jobs_withdrawn + self.jobs_left - self.cases


WITHDRAWN = re.compile(r"other case\(s\) routed with it, (\d+) of their jobs withdrawn")


def app_log_size(setup: harness.Setup) -> int:
    path = setup.workdir / "confide.log"
    return path.stat().st_size if path.exists() else 0


def jobs_withdrawn(setup: harness.Setup, since: int) -> int:
    """Route jobs withdrawn from the queues, as the app's log says, after offset ``since``."""
    with open(setup.workdir / "confide.log", "rb") as log:
        log.seek(since)
        text = log.read().decode(errors="replace")
    return sum(int(count) for count in WITHDRAWN.findall(text))


def waiting_cases(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM cases WHERE routing_state = 'intake'").fetchone()
    return int(row[0]) if row else 0


def lock_waiters(conn: psycopg.Connection[Any]) -> int:
    """Backends of the bench's database waiting for a lock right now (two workers routing
    to the same responder: _under_cap locks the responder's row until the commit)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()
    return int(row[0]) if row else 0


# A throughput phase fails if for this long no case is routed and no job leaves the queues
# (stuck workers). Routing alone may pause: duplicate jobs of urgent cases run first.
STALL_S = 60.0


def run_throughput(
    app: Any, setup: harness.Setup, redis: Redis, kind: WorkerKind, workers: int, cases: int, seed: int
) -> ThroughputResult:
    """File ``cases`` reports with no worker running, start ``workers`` workers together and
    time them until no case waits any more; then stop them, and empty the queues of the
    duplicate jobs their start-up sweeps left (every case is routed: they would do nothing)."""
    settle()
    failed_before = failed_jobs(redis)
    with app.app_context():
        started = time.perf_counter()
        ids = file_reports(cases, random.Random(seed), seed * 1_000_000)
        print(f"    filed and queued {cases:,} reports in {time.perf_counter() - started:.1f} s", flush=True)
    label = f"throughput-{kind.key}-{workers}"
    with psycopg.connect(harness.pg_url(BENCH_DATABASE, "postgresql"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases")
        log_start = app_log_size(setup)
        postmaster = postmaster_pid()
        cpu_before, commands_before = cpu_now(postmaster), redis_commands(redis)
        start, start_wall = time.perf_counter(), time.time()
        last = (start, cases, sum(queue.count for queue in queues(redis)))
        # Sampled with each look at the progress: how often some worker waits for a lock.
        looks = lock_looks = 0
        with running_workers(kind, workers, setup, label) as processes:
            while True:
                time.sleep(0.25)
                now = time.perf_counter()
                check_alive(processes, setup, label)
                looks += 1
                lock_looks += lock_waiters(conn) > 0
                waiting = waiting_cases(conn)
                if waiting == 0:
                    routed_s = now - start
                    break
                queued = sum(queue.count for queue in queues(redis))
                if waiting < last[1] or queued < last[2]:
                    last = (now, waiting, queued)
                elif now - last[0] > STALL_S:
                    raise SystemExit(f"throughput phase {label}: {waiting:,} cases wait; no progress for {STALL_S:g} s")
            jobs_left = sum(queue.count for queue in queues(redis))
        # The workers have stopped and been waited for: their CPU, their children's included, is counted.
        cpu_after, commands_after = cpu_now(postmaster), redis_commands(redis)
        wall = time.perf_counter() - start
        for queue in queues(redis):
            queue.empty()
        times = sorted(
            float(t)
            for (t,) in conn.execute(
                "SELECT extract(epoch FROM started_at) FROM routing_rounds WHERE case_id = ANY(%s) AND number = 1",
                (ids,),
            )
        )
        row = conn.execute(
            "SELECT count(*) FROM cases WHERE id = ANY(%s) AND routing_state <> 'assigned'", (ids,)
        ).fetchone()
        not_assigned = int(row[0]) if row else cases
    half = len(times) // 2
    used = {k: cpu_after[k] - cpu_before[k] for k in cpu_before}
    other = max(0.0, used["machine"] - sum(v for k, v in used.items() if k != "machine"))
    cpu = {k: round(1000 * used[k] / cases, 2) for k in ("workers", "postgres", "redis", "bench")}
    cpu["other"] = round(1000 * other / cases, 2)

    def rate(first: int, last: int) -> float:
        return (last - first) / (times[last] - times[first]) if times[last] > times[first] else 0.0

    return ThroughputResult(
        cases=cases,
        workers=workers,
        routed_s=routed_s,
        first_route_s=times[0] - start_wall if times else 0.0,
        steady_per_s=rate(0, len(times) - 1) if times else 0.0,
        first_half_per_s=rate(0, half) if times else 0.0,
        second_half_per_s=rate(half, len(times) - 1) if times else 0.0,
        jobs_run=worker_log_lines(setup, label, "Job OK"),
        jobs_withdrawn=jobs_withdrawn(setup, log_start),
        jobs_left=jobs_left,
        cpu_ms_per_case=cpu,
        busy_cores=round(used["machine"] / wall, 2) if wall else 0.0,
        redis_commands_per_case=round((commands_after - commands_before) / cases, 1),
        lock_wait_share=round(lock_looks / looks, 3) if looks else 0.0,
        not_assigned=not_assigned + cases - len(times),
        failed=failed_jobs(redis) - failed_before,
    )


def run_noop_throughput(
    setup: harness.Setup, redis: Redis, kind: WorkerKind, workers: int, jobs: int
) -> dict[str, Any]:
    """RQ's own ceiling: ``jobs`` no-op jobs queued with no worker running, then
    ``workers`` workers started together and timed until every job has run."""
    queue = queues(redis)[1]
    for n in range(jobs):
        queue.enqueue(
            NOOP_JOB,
            job_id=f"{QUEUE_PREFIX}-noop-{kind.key}-{workers}-{n}",
            result_ttl=3600,
            failure_ttl=7 * 86400,
            description="noop",
        )
    label = f"noop-{kind.key}-{workers}"
    before_done = queue.finished_job_registry.count + queue.failed_job_registry.count
    postmaster = postmaster_pid()
    cpu_before, commands_before = cpu_now(postmaster), redis_commands(redis)
    start = time.perf_counter()
    last = (start, jobs)
    with running_workers(kind, workers, setup, label) as processes:
        while True:
            time.sleep(0.25)
            now = time.perf_counter()
            check_alive(processes, setup, label)
            done = queue.finished_job_registry.count + queue.failed_job_registry.count - before_done
            if done >= jobs:
                done_s = now - start
                break
            if done > jobs - last[1]:
                last = (now, jobs - done)
            elif now - last[0] > STALL_S:
                raise SystemExit(f"no-op phase {label}: {jobs - done:,} jobs left; none done for {STALL_S:g} s")
    cpu_after, commands_after = cpu_now(postmaster), redis_commands(redis)
    wall = time.perf_counter() - start
    used = {k: cpu_after[k] - cpu_before[k] for k in cpu_before}
    other = max(0.0, used["machine"] - sum(v for k, v in used.items() if k != "machine"))
    cpu = {k: round(1000 * used[k] / jobs, 2) for k in ("workers", "postgres", "redis", "bench")}
    cpu["other"] = round(1000 * other / jobs, 2)
    return {
        "jobs": jobs,
        "workers": workers,
        "per_s": round(jobs / done_s, 1),
        "done_s": round(done_s, 2),
        "cpu_ms_per_job": cpu,
        "busy_cores": round(used["machine"] / wall, 2) if wall else 0.0,
        "redis_commands_per_job": round((commands_after - commands_before) / jobs, 1),
        "failed_jobs": queue.failed_job_registry.count,
    }


# ----------------------------------------------------------------- in-process profile


def statement_key(sql: str) -> str:
    """A statement's verb, table and shape, enough to tell the route job's statements apart."""
    sql = " ".join(sql.split())
    if sql.startswith("SELECT"):
        table = re.search(r" FROM (\w+)", sql)
        columns = sql[7 : table.start() if table else None].split(",")
        more = ", …" if len(columns) > 1 else ""
        key = f"SELECT {columns[0].split(' AS ')[0].strip()}{more} FROM {table.group(1) if table else '?'}"
        for clause in (" GROUP BY", " ORDER BY", " FOR UPDATE"):
            if clause in sql:
                key += clause
        return key
    match = re.match(r"(INSERT INTO|UPDATE|DELETE FROM) (\w+)", sql)
    return f"{match.group(1)} {match.group(2)}" if match else sql.split(" ", 1)[0]


def run_profile(app: Any, redis: Redis, count: int, seed: int) -> dict[str, Any]:
    """The route job's body in this process, warm: ``count`` times for a case filed when
    nothing else waits, then ``count`` // 5 (at least 2) backlogs of ``triage.route_batch``
    cases, each routed by one job."""
    from sqlalchemy import text

    from app.extensions import db
    from workers.jobs import route_case

    rng = random.Random(seed)
    batch = app.config["CONFIDE"].triage.route_batch
    number = seed * 1_000_000

    def filed(n: int) -> list[str]:
        nonlocal number
        ids = file_reports(n, rng, number)
        number += n
        for queue in queues(redis):  # their jobs are for no worker: they are routed here
            queue.empty()
        return ids

    def timed(case_id: str, by_statement: dict[str, list[float]]) -> tuple[float, float, int]:
        with harness.sql_capture(db.engine) as captured:
            start = time.perf_counter()
            outcome = route_case(case_id)
            took = time.perf_counter() - start
        if outcome != "assigned":
            raise SystemExit(f"profile: case {case_id} {outcome}, not assigned")
        for statement in captured:
            by_statement.setdefault(statement_key(statement["sql"]), []).append(statement["s"])
        return took, sum(c["s"] for c in captured), len(captured)

    with app.app_context():
        for case_id in filed(3):  # warm: statements compiled, connection open, modules imported
            route_case(case_id)
        single_statements: dict[str, list[float]] = {}
        single = [timed(filed(1)[0], single_statements) for _ in range(count)]
        backlogs = max(2, count // 5)
        batch_statements: dict[str, list[float]] = {}
        batches = []
        for _ in range(backlogs):
            ids = filed(batch)
            batches.append(timed(ids[0], batch_statements))
            waiting = db.session.scalar(
                text("SELECT count(*) FROM cases WHERE id = ANY(:ids) AND routing_state = 'intake'"), {"ids": ids}
            )
            if waiting:
                raise SystemExit(f"profile: one job left {waiting} of a backlog of {batch} unrouted")
        open_cases = db.session.scalar(text("SELECT count(*) FROM cases WHERE queue_rank IN (0, 1)"))
        unsent = db.session.scalar(text("SELECT count(*) FROM notifications WHERE sent_at IS NULL"))
        db.session.remove()

    def ms(values: list[float], per: int = 1) -> float:
        return round(1000 * statistics.median(values) / per, 2)

    def statement_ms(by_statement: dict[str, list[float]], jobs: int) -> dict[str, Any]:
        return {
            key: {"per_job": round(len(values) / jobs, 2), "mean_ms": round(1000 * statistics.fmean(values), 3)}
            for key, values in sorted(by_statement.items(), key=lambda item: -sum(item[1]))
        }

    return {
        "open_cases": open_cases,
        "unsent_notices": unsent,
        "batch": batch,
        "single_ms": ms([t for t, _, _ in single]),
        "single_sql_ms": ms([q for _, q, _ in single]),
        "single_statements": statistics.median(n for _, _, n in single),
        "backlog_ms": ms([t for t, _, _ in batches]),
        "backlog_sql_ms": ms([q for _, q, _ in batches]),
        "backlog_statements": statistics.median(n for _, _, n in batches),
        "backlog_ms_per_case": ms([t for t, _, _ in batches], batch),
        "single_statement_ms": statement_ms(single_statements, count),
        "backlog_statement_ms": statement_ms(batch_statements, backlogs),
    }


# ---------------------------------------------------------------------------- results


def latency_figures(result: LatencyResult) -> dict[str, Any]:
    """Percentiles of both kinds of job, their ratio, and the medians of their parts."""
    out: dict[str, Any] = {}
    for name, samples in (("route", result.route), ("noop", result.noop)):
        ordered = sorted(samples.total)
        out[name] = {
            "samples": len(ordered),
            "p50_ms": round(harness.percentile(ordered, 50), 1),
            "p95_ms": round(harness.percentile(ordered, 95), 1),
            "p99_ms": round(harness.percentile(ordered, 99), 1),
            "mean_ms": round(1000 * statistics.fmean(ordered), 1) if ordered else float("nan"),
            "parts_median_ms": {k: round(1000 * statistics.median(v), 1) for k, v in samples.parts.items()},
        }
    route, noop = out["route"], out["noop"]
    if route["samples"] and noop["samples"]:
        out["ratio_p50"] = round(route["p50_ms"] / noop["p50_ms"], 2)
        out["ratio_p95"] = round(route["p95_ms"] / noop["p95_ms"], 2)
    out["errors"] = result.errors.errors
    return out


def throughput_figures(result: ThroughputResult) -> dict[str, Any]:
    return {
        "cases": result.cases,
        "workers": result.workers,
        "per_s": round(result.per_s, 1),
        "routed_s": round(result.routed_s, 2),
        "first_route_s": round(result.first_route_s, 2),
        "steady_per_s": round(result.steady_per_s, 1),
        "first_half_per_s": round(result.first_half_per_s, 1),
        "second_half_per_s": round(result.second_half_per_s, 1),
        "jobs_run": result.jobs_run,
        "jobs_withdrawn": result.jobs_withdrawn,
        "jobs_left": result.jobs_left,
        "duplicate_jobs": result.duplicates,
        "cpu_ms_per_case": result.cpu_ms_per_case,
        "busy_cores": result.busy_cores,
        "redis_commands_per_case": result.redis_commands_per_case,
        "lock_wait_share": result.lock_wait_share,
        "not_assigned": result.not_assigned,
        "failed_jobs": result.failed,
    }


LATENCY_COLUMNS = (
    harness.Column("latency, 1 worker, one report at a time", 48),
    harness.Column("samples", 8),
    harness.Column("p50 ms", 8, ".1f"),
    harness.Column("p95 ms", 8, ".1f"),
    harness.Column("p99 ms", 8, ".1f"),
    harness.Column("mean ms", 8, ".1f"),
)
PARTS = ("to_enqueued", "enqueued_to_started", "started_to_ended", "ended_to_seen")
PARTS_COLUMNS = (
    harness.Column("median ms of each part", 48),
    harness.Column("→ queued", 9, ".1f"),
    harness.Column("→ started", 10, ".1f"),
    harness.Column("→ ended", 9, ".1f"),
    harness.Column("→ seen", 8, ".1f"),
    harness.Column("route began", 12, ".1f"),
)
RATE_COLUMNS = (
    harness.Column("throughput", 34),
    harness.Column("cases", 7),
    harness.Column("routed s", 9, ".1f"),
    harness.Column("cases/s", 8, ".1f"),
    harness.Column("1st route s", 12, ".1f"),
    harness.Column("steady/s", 9, ".1f"),
    harness.Column("1st half/s", 11, ".1f"),
    harness.Column("2nd half/s", 11, ".1f"),
    harness.Column("jobs run", 9),
    harness.Column("withdrawn", 10),
    harness.Column("dup jobs", 9),
)
CPU_COLUMNS = (
    harness.Column("CPU ms per case", 34),
    harness.Column("workers", 8, ".2f"),
    harness.Column("postgres", 9, ".2f"),
    harness.Column("redis", 7, ".2f"),
    harness.Column("bench", 7, ".2f"),
    harness.Column("other", 7, ".2f"),
    harness.Column("busy CPUs", 10, ".2f"),
    harness.Column("redis cmds", 11, ".1f"),
    harness.Column("lock waits", 11, ".0%"),
)
PROFILE_ROWS = (
    ("one case, nothing else waiting: job body ms", "single_ms"),
    ("  of which in SQL statements", "single_sql_ms"),
    ("  SQL statements (count)", "single_statements"),
    ("a backlog routed by one job: job body ms", "backlog_ms"),
    ("  of which in SQL statements", "backlog_sql_ms"),
    ("  SQL statements (count)", "backlog_statements"),
    ("  job body ms per case", "backlog_ms_per_case"),
)


def print_report(figures: dict[str, Any], kinds: list[WorkerKind]) -> None:
    """The tables: latency, its parts, throughput, CPU, the in-process profile."""
    titles = {kind.key: kind.title for kind in kinds}
    rows: list[tuple[object, ...]] = []
    parts_rows: list[tuple[object, ...]] = []
    for key, entry in figures["latency"].items():
        for name, title in (("route", "routing, commit → routed"), ("noop", "no-op job, enqueue → result")):
            row = entry[name]
            rows.append(
                (f"{title}: {key}", row["samples"], row["p50_ms"], row["p95_ms"], row["p99_ms"], row["mean_ms"])
            )
            parts = row["parts_median_ms"]
            parts_rows.append((f"{title}: {key}", *(parts.get(p) for p in PARTS), parts.get("route_began")))
    print()
    harness.print_table(LATENCY_COLUMNS, rows)
    for key, entry in figures["latency"].items():
        if "ratio_p50" in entry:
            print(
                f"  {titles[key]}: routing ÷ no-op = {entry['ratio_p50']:.2f} at p50, {entry['ratio_p95']:.2f} at p95"
            )
    print()
    harness.print_table(PARTS_COLUMNS, parts_rows)
    print(
        "  (→ queued: from the commit, or the no-op's enqueue call, to RQ's enqueued_at; → started: to the job's\n"
        "   start (dequeue); → ended: the job body; → seen: RQ's bookkeeping until the\n"
        "   result is read here. route began: from the commit to route_case's own clock reading, in the body)"
    )
    rate_rows: list[tuple[object, ...]] = []
    cpu_rows: list[tuple[object, ...]] = []
    for key, entry in figures["throughput_noop"].items():
        rate_rows.append((f"no-op jobs, {key}", entry["jobs"], entry["done_s"], entry["per_s"]))
        cpu = entry["cpu_ms_per_job"]
        cpu_rows.append(
            (
                f"no-op jobs, {key}",
                cpu["workers"],
                cpu["postgres"],
                cpu["redis"],
                cpu["bench"],
                cpu["other"],
                entry["busy_cores"],
                entry["redis_commands_per_job"],
            )
        )
    for key, entry in figures["throughput"].items():
        rate_rows.append(
            (
                key,
                entry["cases"],
                entry["routed_s"],
                entry["per_s"],
                entry["first_route_s"],
                entry["steady_per_s"],
                entry["first_half_per_s"],
                entry["second_half_per_s"],
                entry["jobs_run"],
                entry["jobs_withdrawn"],
                entry["duplicate_jobs"],
            )
        )
        cpu = entry["cpu_ms_per_case"]
        cpu_rows.append(
            (
                key,
                cpu["workers"],
                cpu["postgres"],
                cpu["redis"],
                cpu["bench"],
                cpu["other"],
                entry["busy_cores"],
                entry["redis_commands_per_case"],
                entry["lock_wait_share"],
            )
        )
    if rate_rows:
        print()
        harness.print_table(RATE_COLUMNS, rate_rows)
        print(
            "  (no-op jobs: as many no-op jobs as cases, queued, then timed from starting the workers until all\n"
            "   have run: RQ's own ceiling. routed s and cases/s: from starting the workers until no case waits;\n"
            "   1st route: when the first case was routed; steady/s: between the first and the last case routed,\n"
            "   and per half of the cases (L0-L1 go first); jobs run: route jobs the workers ran until then;\n"
            "   withdrawn: route jobs taken off the queue because another job routed their case; dup jobs: jobs\n"
            "   queued again by the workers' start-up sweeps, beyond one per case)"
        )
        print()
        harness.print_table(CPU_COLUMNS, cpu_rows)
        print(
            "  (from starting the workers until they have stopped, per case (per job for no-op jobs): the workers\n"
            "   (with any children), PostgreSQL with its ended backends, Redis, this script, every other\n"
            "   process (other work on the machine: noise); busy CPUs: of the machine meanwhile; redis cmds:\n"
            "   commands the whole server ran;\n"
            "   lock waits: share of the progress checks (4 a second) that found a worker's backend waiting on a lock)"
        )
        # Much CPU used by other processes meanwhile: the phase had less than the whole machine.
        used = [(key, entry["cpu_ms_per_case"]) for key, entry in figures["throughput"].items()]
        used += [(f"no-op jobs, {key}", entry["cpu_ms_per_job"]) for key, entry in figures["throughput_noop"].items()]
        noisy = [key for key, cpu in used if cpu["other"] > 0.25 * cpu["workers"]]
        if noisy:
            print(
                f"  WARNING: other processes used much CPU during {', '.join(noisy)}: those phases had less than "
                f"the machine's {os.cpu_count()} CPUs, and their rates are lower than on a quiet machine"
            )
        figures["noisy_phases"] = noisy
    profiles = figures.get("profile", {})
    if profiles:
        columns = (harness.Column("in-process, median", 44), *(harness.Column(k, 10, ".2f") for k in profiles))
        print()
        harness.print_table(columns, [(title, *(p[key] for p in profiles.values())) for title, key in PROFILE_ROWS])
        first = next(iter(profiles.values()))
        states = [
            f"{k}: {p['open_cases']:,} open cases, {p['unsent_notices']:,} unsent notices" for k, p in profiles.items()
        ]
        print(f"  a backlog: {first['batch']} cases (triage.route_batch); " + "; ".join(states))
        for kind, title in (("single", "one case"), ("backlog", "a backlog")):
            print(f"\n  the job body's statements, {title}: per job, mean ms each (" + " / ".join(profiles) + "):")
            key = f"{kind}_statement_ms"
            names = list(dict.fromkeys(name for p in reversed(profiles.values()) for name in p[key]))
            for name in names:
                values = [p[key].get(name, {}) for p in profiles.values()]
                per_job = values[0].get("per_job", 0)
                means = " / ".join(f"{v.get('mean_ms', float('nan')):.3f}" for v in values)
                print(f"    {per_job:>5g} × {name[:70]:<70} {means}")


def check_targets(figures: dict[str, Any]) -> bool | None:
    """Print whether the targets are met; None if the phases they need did not run."""
    latency = figures["latency"].get(WORKERS.key)
    rate = figures["throughput"].get(f"{WORKERS.key} x2")
    if not latency or not rate:
        return None
    p95 = latency["route"]["p95_ms"]
    per_s = rate["per_s"]
    p95_ok, rate_ok = p95 < TARGET_P95_MS, per_s >= TARGET_CASES_PER_S
    figures["targets"] = {
        "p95_max_ms": TARGET_P95_MS,
        "cases_per_s_min": TARGET_CASES_PER_S,
        "p95_ms": p95,
        "cases_per_s": per_s,
        "p95_met": p95_ok,
        "throughput_met": rate_ok,
        "met": p95_ok and rate_ok,
    }
    print()
    print(
        f"routing p95 with python -m workers = {p95} ms (target < {TARGET_P95_MS:g} ms; no-op job p95 "
        f"{latency['noop']['p95_ms']} ms): {'met' if p95_ok else 'MISSED'}"
    )
    print(
        f"throughput with 2 x python -m workers = {per_s} cases/s (target ≥ {TARGET_CASES_PER_S:g}): "
        f"{'met' if rate_ok else 'MISSED'}"
    )
    return p95_ok and rate_ok


# ------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    """The command line; see --help."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run: 40 samples, 1,000 cases, profile of 20")
    parser.add_argument("--samples", type=int, help="latency samples of each kind (default 200)")
    parser.add_argument("--cases", type=int, help="cases per throughput phase (default 10,000)")
    parser.add_argument("--profile", type=int, help="cases per in-process profile (default 100)")
    parser.add_argument(
        "--batch-only", action="store_true", help="leave out the comparison with one case per job (route_batch = 1)"
    )
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    args.samples = args.samples or (40 if args.quick else 200)
    args.cases = args.cases or (1_000 if args.quick else 10_000)
    args.profile = args.profile or (20 if args.quick else 100)
    if not (10 <= args.samples <= 5_000 and 100 <= args.cases <= 200_000 and 5 <= args.profile <= 2_000):
        parser.error("samples 10-5,000, cases 100-200,000, profile 5-2,000")
    return args


def main() -> int:
    """Set up, run every phase, report; the exit status as the module docstring says."""
    args = parse_args()
    # SIGTERM ends the run like Ctrl-C does, through the clean-up below and bench_setup's.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    refuse_used_redis()
    with harness.bench_setup(
        database=BENCH_DATABASE,
        redis_url=REDIS_URL,
        queue_prefix=QUEUE_PREFIX,
        config_toml=CONFIG_TOML,
        workdir_prefix="confide-bench-routing-",
    ) as setup:
        app = in_process_app(setup.env)
        redis = Redis.from_url(REDIS_URL, socket_timeout=60)
        try:
            return run(args, app, setup, redis)
        finally:
            redis.close()
            # The in-process app's connections go before bench_setup drops the database.
            from app.extensions import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def refuse_used_redis() -> None:
    """Stop before bench_setup flushes the bench's Redis database if anything is in it:
    tests or another benchmark may be using it."""
    with Redis.from_url(REDIS_URL, socket_timeout=5) as redis:
        keys = redis.dbsize()
        if keys:
            sample = next(iter(redis.scan_iter(count=10)), b"").decode(errors="replace")
            raise SystemExit(
                f"{REDIS_URL} holds {keys} key(s) (such as {sample!r}) and this benchmark flushes it: set "
                f"CONFIDE_BENCH_ROUTING_REDIS_URL to an unused database (or flush it, if they are left from "
                f"a run of this benchmark that was killed)"
            )


def run(args: argparse.Namespace, app: Any, setup: harness.Setup, redis: Redis) -> int:
    """Every phase in turn, then the report."""
    kinds = [WORKERS] if args.batch_only else [WORKERS, ONE_PER_JOB]
    with app.app_context():
        seed_staff(RESPONDERS)
    print(
        f"{RESPONDERS} responders, caseload cap {CASELOAD_CAP:,}; {os.cpu_count()} CPUs; load average "
        f"{os.getloadavg()[0]:.2f}; {args.samples} latency samples of each kind, {args.cases:,} cases per "
        f"throughput phase",
        flush=True,
    )
    figures: dict[str, Any] = {
        "bench": "routing",
        "cpus": os.cpu_count(),
        "samples": args.samples,
        "cases": args.cases,
        "responders": RESPONDERS,
        "latency": {},
        "throughput_noop": {},
        "throughput": {},
        "profile": {},
    }
    errors = 0
    samples: dict[str, list[str]] = {}
    # One report at a time: no backlog to batch, so the latency is the same with either kind.
    print(f"latency, {WORKERS.title} …", flush=True)
    result = run_latency(app, setup, redis, WORKERS, args.samples, warmup=5, seed=args.seed)
    figures["latency"][WORKERS.key] = latency_figures(result)
    errors += result.errors.errors
    samples[f"latency {WORKERS.key}"] = result.errors.samples
    print("in-process profile, light database …", flush=True)
    figures["profile"]["light"] = run_profile(app, redis, args.profile, args.seed + 50)
    for workers in (1, 2):
        print(f"no-op jobs, {workers} x {WORKERS.title} …", flush=True)
        noop = run_noop_throughput(setup, redis, WORKERS, workers, args.cases)
        figures["throughput_noop"][f"{WORKERS.key} x{workers}"] = noop
        errors += noop["failed_jobs"]
        print(f"    {noop['jobs']:,} no-op jobs run in {noop['done_s']:.1f} s ({noop['per_s']:.1f}/s)", flush=True)
    phase = 0
    for kind in kinds:
        for workers in (1, 2):
            phase += 1
            key = f"{kind.key} x{workers}"
            print(f"throughput, {workers} x {kind.title} …", flush=True)
            outcome = run_throughput(app, setup, redis, kind, workers, args.cases, args.seed + 100 + phase)
            figures["throughput"][key] = throughput_figures(outcome)
            errors += outcome.not_assigned + outcome.failed
            print(
                f"    routed in {outcome.routed_s:.1f} s ({outcome.per_s:.1f}/s); {outcome.jobs_run:,} jobs run, "
                f"{outcome.jobs_withdrawn:,} withdrawn; {outcome.duplicates:,} duplicate jobs queued",
                flush=True,
            )
    print("in-process profile, loaded database (before the last phase's clean-up) …", flush=True)
    figures["profile"]["loaded"] = run_profile(app, redis, args.profile, args.seed + 60)
    figures["load_average_end"] = round(os.getloadavg()[0], 2)

    print_report(figures, kinds)
    met = check_targets(figures)
    app_errors = harness.app_log_errors(setup.workdir)
    figures["errors"] = errors
    figures["log_errors"] = len(app_errors)
    status = 1 if met is None else (0 if met else 2)
    return harness.finish(figures, status, errors, app_errors, samples)


if __name__ == "__main__":
    sys.exit(main())
