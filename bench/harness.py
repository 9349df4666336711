"""What the benchmarks share: a fresh migrated PostgreSQL database and Redis database, the app
in this process or under gunicorn, HTTP load from Locust (bench/load.py) in a process of its
own, CPU use from /proc, made-up reports from the labelled sets, and how a run ends: a table,
then one JSON line. The benchmarks put the repository root on sys.path before importing this."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from functools import cache
from html import unescape
from http.cookiejar import Cookie, DefaultCookiePolicy
from pathlib import Path
from typing import Any, NamedTuple
from urllib.request import urlopen

import psycopg
from flask import Flask
from redis import Redis

from app import create_app
from app.crypto import create_keyring
from app.extensions import db
from app.staff.models import Training
from tests.factories import make_staff

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("CONFIDE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE = os.environ.get("CONFIDE_BENCH_REDIS_URL", "redis://127.0.0.1:6379")  # each bench its own database
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
INPUT_RE = re.compile(r"<input[^>]*>")
ATTRIBUTE_RE = re.compile(r'(name|value|type)="([^"]*)"')
RECEIPT_RE = re.compile(r'id="receipt">\s*([0-9-]{24})\s*<')  # the confirmation page's receipt
# How often each category comes in, roughly.
CATEGORY_WEIGHTS = dict(sexual_harassment=26, sexual_assault=12, practitioner_violation=12, exploitation=10, other=12)
CATEGORY_WEIGHTS |= dict(threats=12, physical_assault=9, rape=7)
# Rate limits no benchmark client meets: they all come from 127.0.0.1.
LIMITS = ("report", "report_all", "status", "staff_login", "staff_search")
UNLIMITED = "[rate_limits]\n" + "".join(f'{name} = "1000000 per minute"\n' for name in LIMITS)


@cache
def labelled(language: str, levels: str = "L2 L3") -> tuple[str, ...]:
    """The narratives of the labelled triage sets in ``language`` (en, es, zh, ko, pt) that a
    coordinator would give one of ``levels``: by default no danger, as most reports are."""
    files = sorted((ROOT / "tests/triage/labelled").glob("*.jsonl"))
    rows = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    return tuple(r["narrative"] for r in rows if r["language"] == language and r["expect"] in levels.split())


def story(rng: random.Random, language: str, chars: int) -> str:
    """Calm labelled narratives in ``language`` drawn until there are ``chars`` characters."""
    parts: list[str] = []
    while sum(len(p) + 2 for p in parts) < chars:
        parts.append(rng.choice(labelled(language)))
    return "\n\n".join(parts)[:chars].rstrip()


def category(rng: random.Random) -> str:
    return rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]


def app_environment(workdir: Path, database_url: str, redis_url: str, prefix: str, config: str) -> dict[str, str]:
    """The environment of the app, gunicorn and workers: our settings only, none inherited.
    Writes ``config`` to the configuration file it names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIDE_", "FLASK_", "GUNICORN_", "PYTHONPATH"))}
    (workdir / "confide.toml").write_text(config)
    env |= {"FLASK_APP": "app:create_app", "CONFIDE_ENV": "production", "PYTHONUNBUFFERED": "1"}
    env |= {"CONFIDE_CONFIG": str(workdir / "confide.toml"), "CONFIDE_KEYS_DIR": str(workdir / "keys")}
    env |= {"CONFIDE_DATABASE_URL": database_url, "CONFIDE_REDIS_URL": redis_url, "CONFIDE_QUEUE_PREFIX": prefix}
    # Secure cookies as in production; the clients send them over HTTP all the same.
    env |= {"CONFIDE_LOG_FILE": str(workdir / "confide.log"), "CONFIDE_SECURE_COOKIES": "true"}
    return env


def migrate(env: dict[str, str]) -> None:
    """`flask db upgrade` on the database ``env`` names; stops the run if it fails."""
    command = [sys.executable, "-m", "flask", "db", "upgrade"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"`flask db upgrade` failed:\n{result.stdout}{result.stderr}")


class Setup(NamedTuple):
    workdir: Path
    env: dict[str, str]
    redis: Redis


@contextmanager
def bench_setup(name: str, redis_db: int, config: str = "", in_process: bool = False) -> Iterator[Setup]:
    """Database confide_bench_NAME made and migrated, Redis database ``redis_db`` flushed, a
    keyring and ``config`` in a temporary folder; with ``in_process``, the app in this process
    as gunicorn's, its context pushed. All removed however the block ends (SIGTERM too)."""
    database, redis_url = f"confide_bench_{name}", f"{REDIS_BASE}/{redis_db}"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def drop() -> None:  # even while the app still has connections open to it
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    workdir = Path(tempfile.mkdtemp(prefix=f"{database}-"))
    redis = Redis.from_url(redis_url, socket_timeout=60)
    try:
        redis.flushdb()
        drop()  # left over from a run killed outright
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        create_keyring(workdir / "keys")
        url = re.sub(r"^postgresql://(.*)/[^/?]*", rf"postgresql+psycopg://\1/{database}", PG_ADMIN_URL)
        env = app_environment(workdir, url, redis_url, f"confide-bench-{name}", config)
        migrate(env)
        setup = Setup(workdir, env, redis)
        if not in_process:
            yield setup
            return
        with app_in_process(env):
            yield setup
    finally:
        try:
            redis.flushdb()
        finally:
            redis.close()
            drop()
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def app_in_process(env: dict[str, str]) -> Iterator[Flask]:
    """The app in this process, configured as gunicorn's and the workers' (``env``), its
    context pushed; its connections closed at the end, before any database is dropped."""
    for key in [k for k in os.environ if k.startswith(("CONFIDE_", "FLASK_"))]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith(("CONFIDE_", "FLASK_"))})
    app = create_app()
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def seed_responders(count: int) -> None:
    """``count`` responders any case can go to (both languages, trained for every category, a
    cap no run reaches) and two coordinators, one on call (tests/factories.py)."""
    valid = {"completed_on": date.today(), "expires_on": date.today() + timedelta(days=365)}
    for n in range(2):
        make_staff("coordinator", on_duty=n == 0)
    for _ in range(count):
        staff = make_staff("responder", languages=("en", "es"), caseload_cap=100_000)
        db.session.add(Training(staff_id=staff.id, course="Peer support", category="all", **valid))
    db.session.commit()


class SecureOverHttp(DefaultCookiePolicy):
    """The app marks its cookies Secure, as in production; the benchmarks speak plain HTTP."""

    def return_ok_secure(self, cookie: Cookie, request: Any) -> bool:
        return True


def hidden_fields(html: str) -> dict[str, str]:
    """A page's hidden inputs (CSRF token, submission token), as a browser sends them back."""
    fields = (dict(ATTRIBUTE_RE.findall(tag)) for tag in INPUT_RE.findall(html))
    return {f["name"]: unescape(f.get("value", "")) for f in fields if f.get("type") == "hidden" and "name" in f}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(setup: Setup, workers: int = 2, app: str = "app:create_app()") -> Iterator[tuple[int, list[int]]]:
    """gunicorn with sync workers, as production runs it, once /healthz answers; yields its
    port and the workers' process ids; stopped however the block ends."""
    port, log = free_port(), setup.workdir / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", app, "-b", f"127.0.0.1:{port}", "-w", str(workers)]
    command += ["--no-control-socket", "--log-level", "warning", "--error-logfile", str(log)]
    process = subprocess.Popen(command, cwd=ROOT, env=setup.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield port, [pid for pid, _, parent, _ in processes() if parent == process.pid]
    finally:
        process.terminate()
        process.wait(timeout=30)


def locust(port: int, user: str, users: int, seconds: int, **env: str) -> dict[str, dict[str, Any]]:
    """bench/load.py's ``user`` class, ``users`` of them at once for ``seconds``: by request
    name, its count, failures, rate and p50/p95/p99 in ms; "failed" lists the first failures."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench/load.py"), user, "--headless"]
        command += ["-H", f"http://127.0.0.1:{port}", "-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
        command += ["--json-file", f"{out}/run", "--csv", f"{out}/run", "--only-summary", "--loglevel", "ERROR"]
        ran = subprocess.run(command, cwd=ROOT, env=os.environ | env, capture_output=True, text=True)
        crashed = list(csv.DictReader(open(f"{out}/run_exceptions.csv"))) if ran.returncode > 1 else []  # noqa: SIM115
        if ran.returncode > 1 or crashed or not Path(f"{out}/run.json").exists():  # 1: requests failed
            raise SystemExit(f"locust failed ({ran.returncode}):\n{crashed[:1]}\n{ran.stderr[-3000:]}")
        entries = json.loads(Path(f"{out}/run.json").read_text())  # complete at the end, unlike the CSV
        with open(f"{out}/run_failures.csv") as failures:  # written each second: samples only
            failed = [f"{r['Occurrences']} × {r['Method']} {r['Name']}: {r['Error']}" for r in csv.DictReader(failures)]
    figures: dict[str, dict[str, Any]] = {"failed": {"samples": failed[:5]}}
    for e in entries:
        took = [int(ms) / 1000 for ms, n in e["response_times"].items() for _ in range(n)]
        per_s = e["num_requests"] / max(1e-9, (e["last_request_timestamp"] or 0) - e["start_time"])
        key = e["name"] if e["method"] == "PAIR" else f"{e['method']} {e['name']}"  # GET and POST apart
        figures[key] = {"requests": e["num_requests"], "failures": e["num_failures"], "per_s": round(per_s, 1)}
        figures[key] |= percentiles(took)
    pages = [e for e in entries if e["method"] != "PAIR"]  # all requests, not the pairs they make
    took = [int(ms) / 1000 for e in pages for ms, n in e["response_times"].items() for _ in range(n)]
    span = max(e["last_request_timestamp"] or 0 for e in pages) - min(e["start_time"] for e in pages) if pages else 1
    figures["all"] = {"requests": len(took), "failures": sum(e["num_failures"] for e in pages)}
    figures["all"] |= {"per_s": round(len(took) / max(1e-9, span), 1), **percentiles(took)}
    if any(f.get("failures") for f in figures.values()) and not failed:
        figures["failed"]["samples"] = ["failures in the last second of the run"]
    return figures


def processes() -> Iterator[tuple[int, str, int, float]]:
    """Each process's id, command name, parent's id and CPU seconds so far."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                name, _, fields = (entry / "stat").read_text().partition(" (")[2].rpartition(") ")
                parent, user, system = (int(fields.split()[i]) for i in (1, 11, 12))
                yield int(entry.name), name, parent, (user + system) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile


def cpu_snapshot(pids: Sequence[int] = ()) -> dict[str, float]:
    """CPU seconds so far of ``pids`` (gunicorn's workers), PostgreSQL, this process with the
    children it has waited for (Locust), and the whole machine."""
    found, children = list(processes()), resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return {
        "app": sum(cpu for pid, _, _, cpu in found if pid in pids),
        "postgres": sum(cpu for _, name, _, cpu in found if name == "postgres"),
        "bench": time.process_time() + children.ru_utime + children.ru_stime,
        "machine": (sum(busy) - busy[3] - busy[4]) / CLOCK_TICKS,  # all but idle and iowait
    }


def other_cpu(before: dict[str, float], after: dict[str, float]) -> tuple[float, float]:
    """CPU seconds others on the machine used between two snapshots, and the main party's
    (the app's, else the bench's): when the first is a quarter of the second, figures are low."""
    used = {k: after[k] - before[k] for k in before}
    others = used["machine"] - used["app"] - used["postgres"] - used["bench"]
    return max(0.0, others), used["app"] or used["bench"]


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 (nearest rank) of times in seconds, in ms."""
    ordered = sorted(seconds) or [float("nan")]
    rank = {p: max(1, -(-p * len(ordered) // 100)) for p in (50, 95, 99)}  # nearest rank: ceil(p n / 100)
    return {f"p{p}_ms": round(ordered[r - 1] * 1000, 3) for p, r in rank.items()}


def table(titles: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Titles, a rule and the rows, the first column to the left; floats with one decimal."""
    lines = [list(titles)] + [
        [("" if v is None else f"{v:,.1f}" if isinstance(v, float) else v) for v in r] for r in rows
    ]
    widths = [max(len(str(line[i])) for line in lines if i < len(line)) + 2 for i in range(len(titles))]
    text = ["".join(f"{c!s:{'<>'[i > 0]}{widths[i]}}" for i, c in enumerate(line)) for line in lines]
    print("", text[0], "-" * len(text[0]), *text[1:], sep="\n")


def finish(figures: Mapping[str, object], status: int, errors: Sequence[str], workdir: Path | None = None) -> int:
    """Say on stderr what failed; print ``figures`` as the last line, one JSON object; return
    the exit status: 1 if anything failed (``errors``, error lines in the app's logs)."""
    logs = [workdir / "confide.log", workdir / "gunicorn.log"] if workdir else []
    marks = (" ERROR ", " CRITICAL ", "[ERROR]", "[CRITICAL]")  # the first line of each error the app logged
    lines = [line.strip() for log in logs if log.exists() for line in log.read_text().splitlines()]
    logged = [line for line in lines if any(m in line for m in marks)]
    if errors or logged:
        status = 1
        print(f"\nFAILED: {len(errors)} error(s), {len(logged)} error line(s) in the logs", file=sys.stderr)
        print(*(f"  {line}" for line in [*errors[:5], *logged[:5]]), sep="\n", file=sys.stderr)
    sys.stderr.flush()
    print(json.dumps({**figures, "errors": len(errors), "log_errors": len(logged)}, separators=(",", ":")), flush=True)
    return status
