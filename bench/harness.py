"""What the benchmarks here share: a fresh migrated database, gunicorn, browser-like clients
in a closed loop, CPU use from /proc, and the figures. The benchmarks put the repository root
on sys.path before they import it."""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from redis import Redis

from app.crypto import create_keyring

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("CONFIDE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

HIDDEN_RE = re.compile(r'<input[^>]*type="hidden"[^>]*>')
NAME_RE = re.compile(r'name="([^"]+)"')
VALUE_RE = re.compile(r'value="([^"]*)"')
LOG_LINE_RE = re.compile(r"^\[?\d{4}-\d\d-\d\d")
EXCEPTION_RE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")

# What the made-up reports say. bench/intake.py draws from the first ten only, so that the
# reports it sends stay the same from run to run.
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

# How often each category comes in, roughly.
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


def pg_url(database: str, driver: str = "postgresql+psycopg") -> str:
    """PG_ADMIN_URL pointed at ``database``; ``driver="postgresql"`` for psycopg itself."""
    url = re.sub(r"/[^/?]*(\?|$)", f"/{database}\\1", PG_ADMIN_URL, count=1)
    return url.replace("postgresql://", f"{driver}://", 1)


def app_environment(
    workdir: Path, database_url: str, redis_url: str, queue_prefix: str, config_toml: str
) -> dict[str, str]:
    """The environment for `flask`, gunicorn and an in-process app: our settings only, none
    inherited. Writes ``config_toml`` to the config file it names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIDE_", "FLASK_", "GUNICORN_", "PYTHONPATH"))}
    (workdir / "confide.toml").write_text(config_toml)
    env.update(
        {
            "FLASK_APP": "app:create_app",
            "CONFIDE_CONFIG": str(workdir / "confide.toml"),
            "CONFIDE_ENV": "production",
            "CONFIDE_SECURE_COOKIES": "true",  # as in production; Browser sends them over HTTP
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
    command = [sys.executable, "-m", "flask", "db", "upgrade"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"`flask db upgrade` failed:\n{result.stdout}{result.stderr}")


@dataclass(frozen=True)
class Setup:
    workdir: Path
    env: dict[str, str]


@contextmanager
def bench_setup(
    *, database: str, redis_url: str, queue_prefix: str, config_toml: str, workdir_prefix: str
) -> Iterator[Setup]:
    """A temporary folder with a keyring and config, the Redis database flushed, a fresh
    migrated PostgreSQL database; all removed again however the block ends."""

    def drop_database() -> None:  # even while the app still has connections open to it
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')  # type: ignore[arg-type]

    workdir = Path(tempfile.mkdtemp(prefix=workdir_prefix))
    redis = Redis.from_url(redis_url, socket_timeout=5)
    created = False
    try:
        redis.flushdb()
        drop_database()  # left over from a crashed run
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')  # type: ignore[arg-type]
        created = True
        create_keyring(workdir / "keys")
        env = app_environment(workdir, pg_url(database), redis_url, queue_prefix, config_toml)
        migrate(env)
        yield Setup(workdir, env)
    finally:
        try:  # nested so that a Redis failure still leaves no database or folder behind
            redis.flushdb()
        finally:
            redis.close()
            if created:
                drop_database()
            shutil.rmtree(workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(
    workers: int, env: dict[str, str], workdir: Path, port: int, ready_path: str, app: str = "app:create_app()"
) -> Iterator[list[int]]:
    """gunicorn with sync workers (no access log: the app forbids request lines), once it
    answers ``ready_path`` with 200; yields the workers' process ids; stopped however the
    block ends."""
    error_log = workdir / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    command += ["--timeout", "30", "--graceful-timeout", "5", "--no-control-socket", "--log-level", "warning"]
    command += ["--error-logfile", str(error_log)] + ["--worker-tmp-dir", "/dev/shm"] * Path("/dev/shm").is_dir()
    with open(workdir / "gunicorn.out", "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _answers(port, ready_path):
            if process.poll() is not None:
                log = error_log.read_text(errors="replace")[-4000:] if error_log.exists() else ""
                raise SystemExit(f"gunicorn exited with status {process.returncode}:\n{log}")
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer {ready_path} within 60 s")
            time.sleep(0.1)
        yield [pid for pid, _, parent, _ in _processes() if parent == process.pid]
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _answers(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _processes() -> Iterator[tuple[int, str, int, float]]:
    """Each process's id, command name, parent's id and CPU seconds so far."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                name, _, fields = (entry / "stat").read_text().partition(" (")[2].rpartition(") ")
                parent, user, system = (int(fields.split()[i]) for i in (1, 11, 12))
                yield int(entry.name), name, parent, (user + system) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile


def cpu_snapshot(workers: list[int]) -> dict[str, float]:
    """CPU seconds used so far by gunicorn's ``workers``, PostgreSQL, this process and the
    whole machine (in the order of the figures in the JSON lines)."""
    processes = list(_processes())
    busy = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return {
        "gunicorn": sum(cpu for pid, _, _, cpu in processes if pid in workers),
        "postgres": sum(cpu for _, name, _, cpu in processes if name == "postgres"),
        "bench": time.process_time(),
        "machine": (sum(busy) - busy[3] - busy[4]) / CLOCK_TICKS,  # all but idle and iowait
    }


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each party used between two snapshots, plus ``other``: whatever else ran
    on the machine meanwhile (another job makes every figure worse)."""
    used = {k: after[k] - before[k] for k in before}
    used["other"] = max(0.0, used["machine"] - sum(v for k, v in used.items() if k != "machine"))
    return used


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
        returns the status and body, and keeps the cookies and Location it sets."""
        headers = {"Accept": "text/html", "Accept-Language": "en", "User-Agent": "confide-bench/1"}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())

        def send() -> tuple[http.client.HTTPResponse, bytes]:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            return response, response.read()

        try:
            response, data = send()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed a kept-alive connection just as we reused it: a browser sends
            # again on a new connection. Only then, and only once.
            self.conn.close()
            if not self.used:
                raise
            self.reconnects += 1
            response, data = send()
        self.used = not response.will_close
        if response.will_close:
            self.conn.close()
        self.location = response.headers.get("Location", "")
        for header in response.headers.get_all("Set-Cookie") or ():
            pair, _, attributes = header.partition(";")
            name, _, value = pair.strip().partition("=")
            if any(gone in attributes.lower() for gone in ("max-age=0", "expires=thu, 01 jan 1970")):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response.status, data.decode("utf-8", errors="replace")

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
    """A phase's errors (the first five as samples) and its timings in seconds."""

    errors: int = 0
    samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def error(self, text: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.samples) < 5:
                self.samples.append(text)


def run_clients(
    port: int,
    clients: int,
    seconds: float,
    seed: int,
    client_step: Callable[[int, random.Random], Callable[[Browser, Tally], None]],
    cookies: dict[str, str] | None = None,
) -> tuple[Tally, float]:
    """``clients`` threads, each with its own Browser (a copy of ``cookies``) and random
    generator, repeat the step ``client_step(index, rng)`` gives them for ``seconds``. A
    failed step counts as an error and the client goes on with a new connection; after 50
    it gives up. Returns the tally and the wall time until the last client's last answer."""
    tally = Tally()
    start = time.perf_counter()

    def client(index: int) -> None:
        browser, errors = Browser(port, cookies), 0
        step = client_step(index, random.Random(seed * 1000 + index))
        while time.perf_counter() < start + seconds and errors <= 50:
            try:
                step(browser, tally)
            except (ClientError, OSError, http.client.HTTPException) as error:
                tally.error(f"{error.__class__.__name__}: {error}")
                errors += 1
                browser.close()
                # A signed-in client keeps its session, as a tab does after a failed page;
                # an anonymous one comes back as a new visitor.
                browser = Browser(port, browser.cookies if cookies is not None else None)
        browser.close()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return tally, time.perf_counter() - start


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of values in seconds, in milliseconds."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1] * 1000


def summary(latencies: list[float], elapsed: float) -> dict[str, float | int]:
    """Count, rate and p50/p95/p99 in milliseconds of latencies in seconds."""
    ordered = sorted(latencies)
    per_s = round(len(ordered) / elapsed, 1) if elapsed else 0.0
    return {
        "requests": len(ordered),
        "per_s": per_s,
        **{f"p{p}_ms": round(percentile(ordered, p), 1) for p in (50, 95, 99)},
    }


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    spec: str = ""  # the format of its numbers, ".1f"


def print_table(columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> None:
    """The titles, a rule, the rows: the first column left-aligned, the others right-aligned;
    None is a blank cell, and a short row leaves the last cells out."""

    def line(values: Sequence[object]) -> str:
        cells = []
        for i, (column, value) in enumerate(zip(columns, values, strict=False)):
            spec = column.spec if value is not None and not isinstance(value, str) else ""
            cells.append(format("" if value is None else value, f"{'<' if i == 0 else '>'}{column.width}{spec}"))
        return "".join(cells)

    header = line([c.title for c in columns])
    print(header, "-" * len(header), *(line(row) for row in rows), sep="\n")


def app_log_errors(workdir: Path) -> list[str]:
    """Each error the app and gunicorn logged: its first line and the exception that ended
    its traceback, so that a failed run says why without keeping the logs."""
    found: list[str] = []
    for log, markers in (("confide.log", (" ERROR ", " CRITICAL ")), ("gunicorn.log", ("[ERROR]", "[CRITICAL]"))):
        lines = (workdir / log).read_text(errors="replace").splitlines() if (workdir / log).exists() else []
        for i, line in enumerate(lines):
            if any(m in line for m in markers):
                end = i + 1
                while end < len(lines) and not LOG_LINE_RE.match(lines[end]):
                    end += 1
                tail = [text.strip() for text in lines[i + 1 : end] if text.strip()]
                cause = ([text for text in tail if EXCEPTION_RE.match(text)] or tail or [""])[-1]
                found.append(f"{line.strip()} | {cause}" if cause else line.strip())
    return found


def finish(
    figures: Mapping[str, object], status: int, errors: int, app_errors: list[str], samples: dict[str, list[str]]
) -> int:
    """Say on stderr what failed, if anything; print ``figures`` as the last line, one JSON
    object; return the exit status, 1 if anything failed."""
    if errors or app_errors:
        status = 1
        print(f"\nFAILED: {errors} client error(s), {len(app_errors)} error line(s) in the logs", file=sys.stderr)
        lines = [f"  {name}: {sample}" for name, texts in samples.items() for sample in texts]
        for line in lines + [f"  log: {line}" for line in app_errors[:5]]:
            print(line, file=sys.stderr)
    sys.stderr.flush()
    print(json.dumps(figures, separators=(",", ":")), flush=True)
    return status
