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

import sys
from pathlib import Path

# Python puts this script's folder first on sys.path, where bench/queue.py would shadow the
# standard library's queue module; take the folder off before anything else is imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from redis import Redis  # noqa: E402

from app.crypto import create_keyring  # noqa: E402

PG_ADMIN_URL = os.environ.get("CONFIDE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_DATABASE = "confide_bench"
REDIS_URL = os.environ.get("CONFIDE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
QUEUE_PREFIX = "confide-bench"

TARGET_RATIO = 0.5
TARGET_P99_MS = 100.0

HIDDEN_RE = re.compile(r'<input[^>]*type="hidden"[^>]*>')
NAME_RE = re.compile(r'name="([^"]+)"')
VALUE_RE = re.compile(r'value="([^"]*)"')
RECEIPT_RE = re.compile(r'id="receipt">\s*([0-9-]{24})\s*<')
LOG_LINE_RE = re.compile(r"^\[?\d{4}-\d\d-\d\d")
EXCEPTION_RE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


# --------------------------------------------------------------------------- the setup


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_url(database: str) -> str:
    url = re.sub(r"/[^/?]*(\?|$)", f"/{database}\\1", PG_ADMIN_URL, count=1)
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _pg_admin(statement: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def create_database() -> str:
    _pg_admin(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{BENCH_DATABASE}"')
    return _pg_url(BENCH_DATABASE)


def drop_database() -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


CONFIG_TOML = """\
# Written by bench/intake.py for one run; removed afterwards.
bench_endpoints = true

[rate_limits]
# Every client is 127.0.0.1: raise the limits so the benchmark measures, not throttles.
report = "1000000 per minute"
status = "1000000 per minute"
"""


def app_environment(workdir: Path, database_url: str) -> dict[str, str]:
    """The environment for `flask` and gunicorn: only our settings, none inherited."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONFIDE_", "FLASK_", "GUNICORN_")) and k != "PYTHONPATH"
    }
    config = workdir / "confide.toml"
    config.write_text(CONFIG_TOML)
    env.update(
        {
            "FLASK_APP": "app:create_app",
            "CONFIDE_CONFIG": str(config),
            "CONFIDE_ENV": "production",
            "CONFIDE_SECURE_COOKIES": "false",
            "CONFIDE_DATABASE_URL": database_url,
            "CONFIDE_REDIS_URL": REDIS_URL,
            "CONFIDE_QUEUE_PREFIX": QUEUE_PREFIX,
            "CONFIDE_KEYS_DIR": str(workdir / "keys"),
            "CONFIDE_LOG_FILE": str(workdir / "confide.log"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def migrate(env: dict[str, str], workdir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise SystemExit(f"`flask db upgrade` failed:\n{result.stdout}{result.stderr}")


@dataclass(frozen=True)
class ServerOptions:
    workers: int
    worker_class: str
    threads: int
    keep_alive: int


@contextmanager
def gunicorn(options: ServerOptions, env: dict[str, str], workdir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn in the background, stopped (TERM, then KILL) however the block ends."""
    error_log = workdir / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "app:create_app()",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(options.workers),
        "--worker-class",
        options.worker_class,
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
        "--error-logfile",
        str(error_log),
        "--log-level",
        "warning",
        "--no-control-socket",
    ]
    if options.worker_class == "gthread":
        command += ["--threads", str(options.threads), "--keep-alive", str(options.keep_alive)]
    # No --access-logfile: gunicorn then writes no request lines (the app forbids them).
    if Path("/dev/shm").is_dir():
        command += ["--worker-tmp-dir", "/dev/shm"]
    with open(workdir / "gunicorn.out", "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(process, port, error_log)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_until_serving(process: subprocess.Popen[bytes], port: int, error_log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = error_log.read_text(errors="replace")[-4000:] if error_log.exists() else ""
            raise SystemExit(f"gunicorn exited with status {process.returncode}:\n{log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/bench/baseline")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("gunicorn did not answer /bench/baseline within 60 s")


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return pids


# ------------------------------------------------------------------- CPU accounting

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _pids_named(*names: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def cpu_snapshot(workers: list[int]) -> dict[str, float]:
    """CPU seconds used so far by each party on this machine (Linux /proc), and by each
    gunicorn worker, to see whether the workers shared the load."""
    try:
        busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        total = sum(int(x) for x in busy) - int(busy[3]) - int(busy[4])  # minus idle, iowait
    except (OSError, IndexError, ValueError):
        total = 0
    return {
        "gunicorn": sum(_cpu_seconds(pid) for pid in workers),
        "postgres": sum(_cpu_seconds(pid) for pid in _pids_named("postgres")),
        "redis": sum(_cpu_seconds(pid) for pid in _pids_named("redis-server")),
        "bench": time.process_time(),
        "machine": total / CLOCK_TICKS,
        **{f"worker:{pid}": _cpu_seconds(pid) for pid in workers},
    }


# ------------------------------------------------------------------------ the clients


class ClientError(Exception):
    pass


class Browser:
    """One keep-alive connection and one cookie jar, like one browser tab."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.used = False
        self.reconnects = 0

    def request(self, method: str, path: str, form: dict[str, object] | None = None) -> tuple[int, str]:
        headers = {
            "Accept": "text/html",
            "Accept-Language": "en",
            "User-Agent": "confide-bench/1",
        }
        body = None
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            response, data = self._send(method, path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed a kept-alive connection just as we reused it; a browser
            # sends again on a new connection. Only then, and only once.
            self.conn.close()
            if not self.used:
                raise
            self.reconnects += 1
            response, data = self._send(method, path, body, headers)
        self.used = not response.will_close
        if response.will_close:
            self.conn.close()
        for header in response.headers.get_all("Set-Cookie") or ():
            self._remember(header)
        return response.status, data.decode("utf-8", errors="replace")

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response, response.read()

    def _remember(self, header: str) -> None:
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        attributes = attributes.lower()
        if "max-age=0" in attributes or "expires=thu, 01 jan 1970" in attributes:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    def close(self) -> None:
        self.conn.close()


def hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in HIDDEN_RE.findall(html):
        name, value = NAME_RE.search(tag), VALUE_RE.search(tag)
        if name:
            fields[name.group(1)] = unescape(value.group(1)) if value else ""
    return fields


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
SENTENCES = [
    "A client made comments about my body during a session and would not stop when I asked.",
    "It happened in the treatment room at the end of a ninety minute appointment.",
    "My manager told me to keep quiet about it and gave me fewer shifts the week after.",
    "He booked again under a different name, and the front desk did not warn me.",
    "I wrote down the date and what he said as soon as I got home that evening.",
    "Another therapist told me the same person had done something similar to her.",
    "I am not sure whether I want to make a complaint yet, but I want it on record.",
    "The owner keeps my passport in the office and says I still owe them for the flight.",
    "I was scared and left the room, and afterwards he sent messages to my phone.",
    "Nobody else was in the building because it was the last appointment of the day.",
]


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
class Tally:
    pairs: list[float] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    reconnects: int = 0

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(text)


def baseline_pair(browser: Browser, rng: random.Random, n: int, tally: Tally, record: bool) -> None:
    start = time.perf_counter()
    status, page = browser.request("GET", "/bench/baseline")
    if status != 200:
        raise ClientError(f"GET /bench/baseline: {status}")
    token = hidden_fields(page).get("csrf_token")
    if not token:
        raise ClientError("GET /bench/baseline: no csrf_token")
    sent = time.perf_counter()
    status, body = browser.request("POST", "/bench/baseline", {"csrf_token": token, "note": f"note {n}"})
    done = time.perf_counter()
    if status != 200 or body != "ok\n":
        raise ClientError(f"POST /bench/baseline: {status} {body[:80]!r}")
    if record:
        tally.pairs.append(done - start)
        tally.posts.append(done - sent)


def submission_pair(browser: Browser, rng: random.Random, n: int, tally: Tally, record: bool) -> None:
    start = time.perf_counter()
    status, page = browser.request("GET", "/report")
    if status != 200:
        raise ClientError(f"GET /report: {status}")
    hidden = hidden_fields(page)
    if not hidden.get("csrf_token") or not hidden.get("submission"):
        raise ClientError(f"GET /report: hidden fields missing ({sorted(hidden)})")
    form = {**hidden, **report_answers(rng, n)}
    sent = time.perf_counter()
    status, body = browser.request("POST", "/report", form)
    done = time.perf_counter()
    if status != 200 or not RECEIPT_RE.search(body):
        notice = re.search(r'class="(?:notice[^"]*|field-errors)"[^>]*>(.{0,160})', body)
        raise ClientError(f"POST /report: {status}, no receipt {notice.group(1) if notice else ''!r}")
    if record:
        tally.pairs.append(done - start)
        tally.posts.append(done - sent)


Scenario = Callable[[Browser, random.Random, int, Tally, bool], None]


def run_phase(port: int, scenario: Scenario, clients: int, seconds: float, record: bool, seed: int) -> tuple[Tally, float]:
    """``clients`` threads each loop over ``scenario`` for ``seconds``; returns the tally and
    the wall time from the common start to the last client's last answer."""
    tally = Tally()
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    stop_at: list[float] = []

    def client(index: int) -> None:
        browser = Browser(port)
        rng = random.Random(seed * 1000 + index)
        local = Tally()
        barrier.wait()
        n = 0
        try:
            while time.perf_counter() < stop_at[0]:
                n += 1
                try:
                    scenario(browser, rng, index * 1_000_000 + n, local, record)
                except (ClientError, OSError, http.client.HTTPException) as error:
                    local.error(f"{error.__class__.__name__}: {error}")
                    browser.close()
                    browser = Browser(port)
                    if local.errors > 50:
                        break
        finally:
            local.reconnects += browser.reconnects
            browser.close()
            with lock:
                tally.pairs += local.pairs
                tally.posts += local.posts
                tally.errors += local.errors
                tally.reconnects += local.reconnects
                tally.samples += local.samples[: max(0, 5 - len(tally.samples))]

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    stop_at.append(start + seconds)
    barrier.wait()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return tally, time.perf_counter() - start


# ---------------------------------------------------------------------------- results


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1] * 1000


def summary(latencies: list[float], elapsed: float) -> dict[str, float | int]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_s": round(len(ordered) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(ordered, 50), 1),
        "p95_ms": round(percentile(ordered, 95), 1),
        "p99_ms": round(percentile(ordered, 99), 1),
    }


def cpu_per_pair(before: dict[str, float], after: dict[str, float], pairs: int, elapsed: float) -> dict[str, float]:
    used = {k: after[k] - before[k] for k in before if not k.startswith("worker:")}
    # Whatever else ran on the machine meanwhile (other jobs skew the figures).
    used["other"] = max(0.0, used["machine"] - sum(v for k, v in used.items() if k != "machine"))
    per_pair = {f"{k}_ms_per_pair": round(1000 * v / pairs, 2) if pairs else 0.0 for k, v in used.items()}
    per_pair["machine_busy_cores"] = round(used["machine"] / elapsed, 2) if elapsed else 0.0
    # The busiest worker's share of all the workers' CPU; an even split is 1/workers.
    workers = [after[k] - before[k] for k in before if k.startswith("worker:")]
    total = sum(workers)
    per_pair["busiest_worker_share"] = round(max(workers) / total, 2) if workers and total else 0.0
    return per_pair


def print_table(rows: list[tuple[str, dict[str, float | int]]]) -> None:
    header = f"{'phase':<28}{'requests':>9}{'per second':>12}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    for name, row in rows:
        print(
            f"{name:<28}{row['requests']:>9}{row['per_s']:>12.1f}"
            f"{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['p99_ms']:>9.1f}"
        )


# ------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
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
    args = parse_args()
    options = ServerOptions(args.workers, args.worker_class, args.threads, args.keep_alive)
    workdir = Path(tempfile.mkdtemp(prefix="confide-bench-"))
    redis = Redis.from_url(REDIS_URL, socket_timeout=5)
    database_created = False
    try:
        redis.flushdb()
        database_url = create_database()
        database_created = True
        create_keyring(workdir / "keys")
        env = app_environment(workdir, database_url)
        migrate(env, workdir)
        port = free_port()
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
        with gunicorn(options, env, workdir, port) as server:
            workers = worker_pids(server.pid)
            phases = {"baseline": baseline_pair, "submission": submission_pair}
            results: dict[str, tuple[Tally, float, dict[str, float]]] = {}
            for seed, (name, scenario) in enumerate(phases.items(), start=1):
                warm, _ = run_phase(port, scenario, args.clients, args.warmup, False, seed)
                if warm.errors:
                    results[name] = (warm, 0.0, {})
                    break
                before = cpu_snapshot(workers)
                tally, elapsed = run_phase(port, scenario, args.clients, args.duration, True, seed + 10)
                cpu = cpu_per_pair(before, cpu_snapshot(workers), len(tally.pairs), elapsed)
                results[name] = (tally, elapsed, cpu)
                print(f"  {name}: done in {elapsed:.1f} s", flush=True)
                if tally.errors:
                    break
        app_errors = _log_errors(workdir / "confide.log", (" ERROR ", " CRITICAL "))
        app_errors += _log_errors(workdir / "gunicorn.log", ("[ERROR]", "[CRITICAL]"))
        return report(args, options, results, app_errors)
    finally:
        redis.flushdb()
        redis.close()
        if database_created:
            drop_database()
        shutil.rmtree(workdir, ignore_errors=True)


def _log_errors(path: Path, markers: tuple[str, ...]) -> list[str]:
    """Each error in a log, as its first line plus the last line of its traceback (the
    exception itself), so a failed run says why without keeping the log."""
    if not path.exists():
        return []
    found: list[str] = []
    lines = path.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if any(m in line for m in markers):
            end = i + 1
            while end < len(lines) and not LOG_LINE_RE.match(lines[end]):
                end += 1
            tail = [text.strip() for text in lines[i + 1 : end] if text.strip()]
            named = [text for text in tail if EXCEPTION_RE.match(text)]
            cause = (named or tail or [""])[-1]
            found.append(f"{line.strip()} | {cause}" if cause else line.strip())
    return found


def report(
    args: argparse.Namespace,
    options: ServerOptions,
    results: dict[str, tuple[Tally, float, dict[str, float]]],
    app_errors: list[str],
) -> int:
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
        pair, post = summary(tally.pairs, elapsed), summary(tally.posts, elapsed)
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
    for name, (_, elapsed, cpu) in results.items():
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
    if errors or app_errors:
        status = 1
        print(f"\nFAILED: {errors} client error(s), {len(app_errors)} error line(s) in the logs", file=sys.stderr)
        for name, (tally, _, _) in results.items():
            for sample in tally.samples:
                print(f"  {name}: {sample}", file=sys.stderr)
        for line in app_errors[:5]:
            print(f"  log: {line}", file=sys.stderr)
    sys.stderr.flush()
    print(json.dumps(figures, separators=(",", ":")), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
