"""What the benchmarks in this folder share: the app set up on a fresh PostgreSQL database,
gunicorn started and stopped, browser-like HTTP clients in a closed loop, CPU accounting
from /proc, and the figures (percentiles, tables, log errors, the final JSON line).

Imported as ``bench.harness`` by the benchmarks here, which put the
repository root on sys.path first; it imports ``app``, so it needs that too.
"""

from __future__ import annotations

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import urlencode

import psycopg
from redis import Redis

from app.crypto import create_keyring

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("CONFIDE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")

HIDDEN_RE = re.compile(r'<input[^>]*type="hidden"[^>]*>')
NAME_RE = re.compile(r'name="([^"]+)"')
VALUE_RE = re.compile(r'value="([^"]*)"')
LOG_LINE_RE = re.compile(r"^\[?\d{4}-\d\d-\d\d")
EXCEPTION_RE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")

# Sentences the benchmarks write reports and notes from. bench/intake.py draws from the
# first ten only, as it always has, so that the reports it sends stay the same.
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
    "The receptionist saw him leave and asked me afterwards if I was all right.",
    "I kept working that week because I could not afford to lose the shifts.",
    "He said he would leave a bad review and tell the owner I had been rude to him.",
    "When I told the owner, she laughed and said that is what clients are like.",
]


# --------------------------------------------------------------------------- the setup


# How often each category comes in, roughly, in the benchmarks' made-up reports.
CATEGORY_WEIGHTS = {
    "sexual_harassment": 26,
    "sexual_assault": 12,
    "practitioner_violation": 12,
    "exploitation": 10,
    "threats": 12,
    "physical_assault": 9,
    "rape": 7,
    "other": 12,
}


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_url(database: str, driver: str = "postgresql+psycopg") -> str:
    """PG_ADMIN_URL pointed at ``database``; SQLAlchemy's driver by default, plain
    ``postgresql`` for psycopg itself."""
    url = re.sub(r"/[^/?]*(\?|$)", f"/{database}\\1", PG_ADMIN_URL, count=1)
    return url.replace("postgresql://", f"{driver}://", 1)


def _pg_admin(statement: str) -> None:
    """One statement on the admin database, outside a transaction (CREATE/DROP DATABASE)."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def create_database(name: str) -> str:
    """A fresh, empty database ``name`` (any left over from a crashed run goes first);
    returns its SQLAlchemy URL."""
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def drop_database(name: str) -> None:
    """Drop ``name`` even while the app still has connections open to it."""
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def app_environment(
    workdir: Path, database_url: str, redis_url: str, queue_prefix: str, config_toml: str
) -> dict[str, str]:
    """The environment for `flask`, gunicorn and an in-process app: only our settings,
    none inherited. Writes ``config_toml`` to the config file it names."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONFIDE_", "FLASK_", "GUNICORN_")) and k != "PYTHONPATH"
    }
    config = workdir / "confide.toml"
    config.write_text(config_toml)
    env.update(
        {
            "FLASK_APP": "app:create_app",
            "CONFIDE_CONFIG": str(config),
            "CONFIDE_ENV": "production",
            # As in production; the bench's own cookie jar sends Secure cookies over plain HTTP.
            "CONFIDE_SECURE_COOKIES": "true",
            "CONFIDE_DATABASE_URL": database_url,
            "CONFIDE_REDIS_URL": redis_url,
            "CONFIDE_QUEUE_PREFIX": queue_prefix,
            "CONFIDE_KEYS_DIR": str(workdir / "keys"),
            "CONFIDE_LOG_FILE": str(workdir / "confide.log"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def migrate(env: dict[str, str]) -> None:
    """`flask db upgrade` on the database ``env`` names; stops the run if it fails."""
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
class Setup:
    """What bench_setup made: the temporary folder and the app's environment."""

    workdir: Path
    env: dict[str, str]


@contextmanager
def bench_setup(
    *, database: str, redis_url: str, queue_prefix: str, config_toml: str, workdir_prefix: str
) -> Iterator[Setup]:
    """A temporary folder with a keyring and a config file, the Redis database flushed, a
    fresh migrated PostgreSQL database; all removed again however the block ends."""
    workdir = Path(tempfile.mkdtemp(prefix=workdir_prefix))
    redis = Redis.from_url(redis_url, socket_timeout=5)
    database_created = False
    try:
        redis.flushdb()
        database_url = create_database(database)
        database_created = True
        create_keyring(workdir / "keys")
        env = app_environment(workdir, database_url, redis_url, queue_prefix, config_toml)
        migrate(env)
        yield Setup(workdir, env)
    finally:
        # Nested so that a Redis failure still leaves no database or folder behind.
        try:
            redis.flushdb()
        finally:
            redis.close()
            if database_created:
                drop_database(database)
            shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class ServerOptions:
    """How gunicorn serves: ``threads`` and ``keep_alive`` apply to gthread workers only."""

    workers: int
    worker_class: str = "sync"
    threads: int = 1
    keep_alive: int = 0


@contextmanager
def gunicorn(
    options: ServerOptions,
    env: dict[str, str],
    workdir: Path,
    port: int,
    ready_path: str,
    app: str = "app:create_app()",
) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn in the background, once it answers ``ready_path`` with 200; stopped (TERM,
    then KILL) however the block ends."""
    error_log = workdir / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
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
        _wait_until_serving(process, port, error_log, ready_path)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_until_serving(process: subprocess.Popen[bytes], port: int, error_log: Path, ready_path: str) -> None:
    """Poll ``ready_path`` until it answers 200; stop the run if gunicorn dies or 60 s pass."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = error_log.read_text(errors="replace")[-4000:] if error_log.exists() else ""
            raise SystemExit(f"gunicorn exited with status {process.returncode}:\n{log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", ready_path)
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer {ready_path} within 60 s")


def worker_pids(master: int) -> list[int]:
    """The process ids of gunicorn's workers: the children of its master (Linux /proc)."""
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
    """CPU seconds a process has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _pids_named(*names: str) -> list[int]:
    """The ids of the processes whose command name is one of ``names``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def cpu_snapshot(workers: list[int], *, redis: bool = False, per_worker: bool = False) -> dict[str, float]:
    """CPU seconds used so far by gunicorn's workers, PostgreSQL, (with ``redis``) Redis,
    this process and the whole machine (Linux /proc); with ``per_worker`` also by each
    worker, as ``worker:<pid>``, to see whether the workers shared the load."""
    try:
        busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        total = sum(int(x) for x in busy) - int(busy[3]) - int(busy[4])  # minus idle, iowait
    except (OSError, IndexError, ValueError):
        total = 0
    # The keys' order is the order of the figures in the JSON line: keep it.
    snapshot = {
        "gunicorn": sum(_cpu_seconds(pid) for pid in workers),
        "postgres": sum(_cpu_seconds(pid) for pid in _pids_named("postgres")),
    }
    if redis:
        snapshot["redis"] = sum(_cpu_seconds(pid) for pid in _pids_named("redis-server"))
    snapshot["bench"] = time.process_time()
    snapshot["machine"] = total / CLOCK_TICKS
    if per_worker:
        snapshot.update({f"worker:{pid}": _cpu_seconds(pid) for pid in workers})
    return snapshot


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each party used between two snapshots (the workers summed, not each),
    plus ``other``: whatever else ran on the machine meanwhile (other jobs skew the figures)."""
    used = {k: after[k] - before[k] for k in before if not k.startswith("worker:")}
    used["other"] = max(0.0, used["machine"] - sum(v for k, v in used.items() if k != "machine"))
    return used


# ------------------------------------------------------------------------ the clients


class ClientError(Exception):
    """A wrong answer: counted as an error of the run."""


class Browser:
    """One keep-alive connection and one cookie jar, like one browser tab."""

    def __init__(self, port: int, cookies: dict[str, str] | None = None) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = dict(cookies or {})
        self.used = False
        self.reconnects = 0
        self.location = ""

    def request(self, method: str, path: str, form: dict[str, object] | None = None) -> tuple[int, str]:
        """Send one request (``form`` url-encoded as a POST body) with the jar's cookies;
        returns the status and the body, and keeps the cookies and Location it sets."""
        headers = {"Accept": "text/html", "Accept-Language": "en", "User-Agent": "confide-bench/1"}
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
        self.location = response.headers.get("Location", "")
        for header in response.headers.get_all("Set-Cookie") or ():
            self._remember(header)
        return response.status, data.decode("utf-8", errors="replace")

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """One request and its whole answer on the current connection."""
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response, response.read()

    def _remember(self, header: str) -> None:
        """Keep or forget a cookie as one Set-Cookie header says."""
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        attributes = attributes.lower()
        if "max-age=0" in attributes or "expires=thu, 01 jan 1970" in attributes:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        self.conn.close()


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page (CSRF token, submission token), as a browser sends them."""
    fields = {}
    for tag in HIDDEN_RE.findall(html):
        name, value = NAME_RE.search(tag), VALUE_RE.search(tag)
        if name:
            fields[name.group(1)] = unescape(value.group(1)) if value else ""
    return fields


@dataclass
class Tally:
    """A phase's errors (with a few samples) and reconnects; each benchmark adds its timings
    in a subclass that extends ``merge``."""

    errors: int = 0
    samples: list[str] = field(default_factory=list)
    reconnects: int = 0

    def error(self, text: str) -> None:
        """Count an error; keep the first five to show."""
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(text)

    def merge(self, other: Self) -> None:
        """Add one client's tally to the phase's."""
        self.errors += other.errors
        self.reconnects += other.reconnects
        self.samples += other.samples[: max(0, 5 - len(self.samples))]


T = TypeVar("T", bound=Tally)
# One step of a client's loop: a page, or a form and its answer, timed into the tally.
Step = Callable[[Browser, T], None]


def run_clients(
    port: int,
    clients: int,
    seconds: float,
    seed: int,
    new_tally: Callable[[], T],
    client_step: Callable[[int, random.Random], Step[T]],
    cookies: dict[str, str] | None = None,
) -> tuple[T, float]:
    """``clients`` threads, each with its own Browser (a copy of ``cookies``, if given) and
    its own random generator, repeat the step ``client_step(index, rng)`` gives them for
    ``seconds``, all starting together. A step that fails counts as an error and the
    client goes on with a new connection; after 50 errors it gives up. Returns the merged
    tally and the wall time from the common start to the last client's last answer."""
    tally = new_tally()
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    stop_at: list[float] = []

    def client(index: int) -> None:
        browser = Browser(port, cookies)
        rng = random.Random(seed * 1000 + index)
        local = new_tally()
        barrier.wait()
        step = client_step(index, rng)
        try:
            while time.perf_counter() < stop_at[0]:
                try:
                    step(browser, local)
                except (ClientError, OSError, http.client.HTTPException) as error:
                    local.error(f"{error.__class__.__name__}: {error}")
                    browser.close()
                    # A signed-in client keeps its session, as a tab does after a failed
                    # page; an anonymous one comes back as a new visitor, with no cookies.
                    browser = Browser(port, browser.cookies if cookies is not None else None)
                    if local.errors > 50:
                        break
        finally:
            local.reconnects += browser.reconnects
            browser.close()
            with lock:
                tally.merge(local)

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
    """Count, rate and p50/p95/p99 in milliseconds of latencies in seconds."""
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_s": round(len(ordered) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(ordered, 50), 1),
        "p95_ms": round(percentile(ordered, 95), 1),
        "p99_ms": round(percentile(ordered, 99), 1),
    }


@dataclass(frozen=True)
class Column:
    """A table column: its title, its width, and the format of its numbers (".1f")."""

    title: str
    width: int
    spec: str = ""


def table_line(columns: Sequence[Column], values: Sequence[object]) -> str:
    """One line of a table: the first column left-aligned, the others right-aligned; a
    None is a blank cell; fewer values than columns leave the rest out."""
    cells = []
    for i, (column, value) in enumerate(zip(columns, values, strict=False)):
        spec = column.spec if value is not None and not isinstance(value, str) else ""
        cells.append(format("" if value is None else value, f"{'<' if i == 0 else '>'}{column.width}{spec}"))
    return "".join(cells)


def print_table(columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> None:
    """The titles, a rule as wide as they are, and the rows."""
    header = table_line(columns, [c.title for c in columns])
    print(header)
    print("-" * len(header))
    for row in rows:
        print(table_line(columns, row))


def log_errors(path: Path, markers: tuple[str, ...]) -> list[str]:
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


def app_log_errors(workdir: Path) -> list[str]:
    """The errors the app and gunicorn logged during the run (see log_errors)."""
    found = log_errors(workdir / "confide.log", (" ERROR ", " CRITICAL "))
    return found + log_errors(workdir / "gunicorn.log", ("[ERROR]", "[CRITICAL]"))


def finish(
    figures: Mapping[str, object],
    status: int,
    errors: int,
    app_errors: list[str],
    samples: dict[str, list[str]],
) -> int:
    """Say what failed, if anything (client errors with their samples per phase, log
    errors), on stderr; print ``figures`` as the last line, one JSON object; returns the
    exit status, 1 if anything failed."""
    if errors or app_errors:
        status = 1
        print(f"\nFAILED: {errors} client error(s), {len(app_errors)} error line(s) in the logs", file=sys.stderr)
        for name, texts in samples.items():
            for sample in texts:
                print(f"  {name}: {sample}", file=sys.stderr)
        for line in app_errors[:5]:
            print(f"  log: {line}", file=sys.stderr)
    sys.stderr.flush()
    print(json.dumps(figures, separators=(",", ":")), flush=True)
    return status


@contextmanager
def sql_capture(engine: Any) -> Iterator[list[dict[str, Any]]]:
    """Every statement ``engine`` runs meanwhile, with its parameters and time in seconds."""
    from sqlalchemy import event

    captured: list[dict[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        took = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        captured.append({"sql": statement, "params": parameters, "s": took})

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
