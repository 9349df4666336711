"""Soak test: Confide on seven hosts (network namespaces) behind HAProxy, through faults:
every process of a web host killed, then of a worker host, Redis restarted empty, PostgreSQL
restarted. Run as root: `.venv/bin/python bench/soak.py [--quick]`. Exit 0: all well; 1: a report
lost, duplicated or routed other than once, or the bench's own errors; 2: only a target missed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg
from redis import Redis
from redis.exceptions import RedisError

from app.crypto import create_keyring
from app.extensions import db
from app.intake.receipts import ReceiptCode
from app.keystore import current_keyring
from app.triage.models import ROUTABLE
from bench import harness, routing
from bench.intake import RECEIPT_RE

# The hosts, each a network namespace with one address on the bridge (.10 onwards).
HOSTS = ("lb", "web1", "web2", "work1", "work2", "db", "redis")
WEB_HOSTS, WORKER_HOSTS = ("web1", "web2"), ("work1", "work2")
WORKERS_PER_HOST = 2
LB_PORT, WEB_PORT, PG_PORT, REDIS_PORT = 8080, 5000, 5544, 6390
QUEUE_PREFIX = "confide-soak"
RESPONDERS = 12
CLIENTS = 32  # reporters filing at the same moment, at most
RESTART_SECONDS = 2  # systemd's RestartSec in deploy/templates/process.service
RETRY_PAUSE = (2.0, 6.0)  # a reporter shown an error sends again after this many seconds
GIVE_UP_SECONDS = 240
TARGET_DRAIN_S = 60.0  # DESIGN.md: any fault heals within a minute
TARGET_GROWTH = 0.10
KINDS = ("gunicorn master", "gunicorn worker", "rq worker", "clock", "postgres", "redis-server", "haproxy")
SEEN = ("503", "5xx", "conn", "409")  # what reporters saw instead of a receipt, as the table counts it
ANSWERS = {  # a reporter's answers, each choice as likely as the others
    "identity": "anonymous",
    "perpetrator": "client employer coworker",
    "setting": "clinic franchise outcall hotel",
    "when": "72h week month year",
    "county": "hartford new_haven fairfield outside",
    "injured": "no no unsure",
    "ongoing": "yes no unsure",
    "language": "en",
    "peer_support": "y",
}
TIMEOUT = "-c statement_timeout=2000"  # for the watcher's queries: it samples on while the database hangs
LOG_MARK_RE = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|exception raised while")

CONFIG_TOML = """\
proxy_count = 1
audit_checkpoints = "{workdir}/audit-checkpoints.jsonl"

[rate_limits]
# Every reporter comes from the bench's one address: raise the limits so none is throttled.
report = "1000000 per minute"
report_all = "1000000 per minute"
status = "1000000 per minute"
"""

HAPROXY_CFG = """\
global
    maxconn 2000
    stats socket {workdir}/haproxy.sock mode 600 level admin
    log stderr format short local0 notice
defaults
    mode http
    log global
    option forwardfor
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 60s
    timeout server 40s
    timeout http-request 10s
frontend reporters
    bind {lb}:{lb_port}
    default_backend web
backend web
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    # /readyz gives up on each of the database and Redis after 2 s: allow it 5.
    timeout check 5s
    default-server inter 1s fall 2 rise 2
"""


@dataclass(eq=False)
class Service:
    """One supervised process (a unit of systemd in production), of one of KINDS."""

    name: str
    kind: str
    host: str
    command: list[str]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    process: subprocess.Popen[bytes] | None = None
    killed: bool = False  # by the bench: its next exit is expected


@dataclass(eq=False)
class Report:
    """What one reporter typed, and what became of it."""

    number: int
    phase: str
    seen: Counter[str] = field(default_factory=Counter)  # each answer that was not a receipt
    waiting: bool = False  # shown an error, she will send it again
    gave_up: bool = False
    refiled: int = 0  # new forms after "this report was already received"


@dataclass(eq=False)
class Soak:
    """Everything the run made and saw, shared by the supervisor, reporters, watcher and faults."""

    args: argparse.Namespace
    pid: int
    subnet: str  # three octets: "10.213.7"
    workdir: Path
    pg_bin: Path
    redis: Redis = field(init=False)
    ring: Any = None  # the keyring, for the receipts' blind indexes only
    lock: threading.Lock = field(default_factory=threading.Lock)
    ending: threading.Event = field(default_factory=threading.Event)  # reporters, watcher and restarts stop
    services: list[Service] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    given: dict[bytes, tuple[str, float]] = field(default_factory=dict)  # receipt index: phase, when shown
    routed: dict[bytes, float] = field(default_factory=dict)  # receipt index: when first seen routed
    samples: list[tuple[float, bool]] = field(default_factory=list)  # when, whether all was whole
    worker_pids: dict[str, int] = field(default_factory=dict)  # by RQ name; RQ forgets them with Redis
    waiting_cases: int = -1
    slack: float = 2.0  # a receipt whose case is routed within this many seconds is no backlog
    worker_victim: str = ""
    errors: list[str] = field(default_factory=list)  # the bench's own failures

    def ns(self, host: str) -> str:
        return f"cfsoak-{self.pid}-{host}"

    def ip(self, host: str) -> str:
        return f"{self.subnet}.{10 + HOSTS.index(host)}"

    def database_url(self, name: str = "confide") -> str:
        return f"postgresql://postgres@{self.ip('db')}:{PG_PORT}/{name}"


def run(*command: str, check: bool = True, cwd: Path | None = None) -> str:
    """Run a command; with ``check``, stop the bench with its output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)
    if check and result.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def netns_pids(ns: str) -> list[int]:
    return [int(pid) for pid in run("ip", "netns", "pids", ns, check=False).split()]


def kill_all(ns: str) -> None:
    """SIGKILL every process of a namespace, twice: a master may fork between listing and killing."""
    for _ in range(2):
        for pid in netns_pids(ns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def remove_runs(pid: int) -> None:
    """Kill whatever lives in the namespaces of this run, or of one killed outright, and remove all it made."""
    listed = re.findall(r"^(cfsoak-(\d+)-\S+)", run("ip", "netns", "list", check=False), re.M)
    owners = {int(owner) for _, owner in listed if not Path(f"/proc/{owner}").exists()} | {pid}
    for ns, owner in listed:
        if int(owner) in owners:
            kill_all(ns)
            run("ip", "netns", "del", ns, check=False)
    for owner in owners:  # a veth can outlive its namespace for a while (the kernel frees those lazily)
        for link in [f"cfs{owner}v{n}" for n in range(len(HOSTS))] + [f"cfs{owner}br"]:
            run("ip", "link", "del", link, check=False)
        for left in Path(tempfile.gettempdir()).glob(f"confide-soak-{owner}-*"):
            shutil.rmtree(left, ignore_errors=True)


def pg_ctl(s: Soak, *args: str, program: str = "pg_ctl") -> str:
    """pg_ctl (or another PostgreSQL program) on the bench's cluster, as postgres in the db namespace."""
    pg = s.workdir / "pg"
    if program == "pg_ctl":
        args = ("-D", str(pg / "data"), "-l", str(pg / "postgres.log"), "-w", "-t", "60", *args)
    command = ["ip", "netns", "exec", s.ns("db"), "runuser", "-u", "postgres", "--", str(s.pg_bin / program)]
    return run(*command, *args, cwd=pg)


def supervise(s: Soak, service: Service) -> None:
    """Keep ``service`` running: one that exits starts again RESTART_SECONDS later."""

    def keep() -> None:
        while True:
            with s.lock, open(s.workdir / "logs" / f"{service.name}.out", "ab") as out:
                if s.ending.is_set():  # under the lock, so that the cleaning sees every process
                    return
                command = ["ip", "netns", "exec", s.ns(service.host), *service.command]
                service.process = subprocess.Popen(  # in a session of its own: Ctrl-C is the bench's
                    command, cwd=ROOT, env=service.env, stdout=out, stderr=out, start_new_session=True
                )
            status = service.process.wait()
            if not service.killed and not s.ending.is_set():
                s.unexpected_exits.append(f"{service.name} exited with status {status}")
            service.killed = False
            if s.ending.wait(RESTART_SECONDS):
                return

    s.services.append(service)
    threading.Thread(target=keep, name=service.name, daemon=True).start()


def kill_host(s: Soak, host: str) -> str:  # as a power cut would
    for service in s.services:
        service.killed = service.killed or service.host == host
    kill_all(s.ns(host))
    return f"killed every process of {host}"


def haproxy_servers(s: Soak) -> dict[str, dict[str, str]]:
    """HAProxy's figures for each web host (its stats socket's "show stat"); {} if it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(1)
            client.connect(str(s.workdir / "haproxy.sock"))
            client.sendall(b"show stat\n")
            text = b"".join(iter(lambda: client.recv(65536), b"")).decode()
    except OSError:
        return {}
    rows = csv.DictReader(text.lstrip("# ").splitlines())
    return {row["svname"]: row for row in rows if row["pxname"] == "web" and row["svname"] in WEB_HOSTS}


def servers_up(s: Soak) -> bool:
    servers = haproxy_servers(s)
    return all(servers.get(host, {}).get("status") == "UP" for host in WEB_HOSTS)


def workers_whole(s: Soak) -> bool:
    """Each worker keeps its liveness key and none of a killed one lingers (the sweep waits for that)."""
    try:
        names = [key.decode().rsplit(":", 1)[1] for key in s.redis.scan_iter(f"{QUEUE_PREFIX}:alive:*")]
        for name in names:
            if name not in s.worker_pids and (pid := s.redis.hget(f"rq:worker:{name}", "pid")):
                s.worker_pids[name] = int(pid)
    except RedisError:
        return False
    alive = {x.process.pid for x in s.services if x.kind == "rq worker" and x.process and x.process.poll() is None}
    return len(alive) == len(WORKER_HOSTS) * WORKERS_PER_HOST and {s.worker_pids.get(n) for n in names} == alive


@contextlib.contextmanager
def cluster(args: argparse.Namespace) -> Iterator[Soak]:
    """Build the hosts and start every process; take it all down however the block ends."""
    pid = os.getpid()
    remove_runs(pid)  # what earlier runs killed outright left behind
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    initdb = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not (initdb and Path(haproxy).exists()):  # .ci/run installs them
        raise SystemExit("needs Debian's postgresql and haproxy (apt-get install postgresql haproxy)")
    routes = run("ip", "-4", "route")  # a /24 in 10.213.0.0/16 that no route of this machine uses
    subnet = next(f"10.213.{(pid + n) % 256}" for n in range(256) if f"10.213.{(pid + n) % 256}." not in routes)
    workdir = Path(tempfile.mkdtemp(prefix=f"confide-soak-{pid}-"))
    s = Soak(args, pid, subnet, workdir, initdb[-1].parent)
    try:
        workdir.chmod(0o711)
        (workdir / "logs").mkdir()
        # A bridge in this namespace and one namespace per host, each with a veth on it.
        bridge = f"cfs{pid}br"
        commands = [f"link add {bridge} type bridge", f"addr add {subnet}.1/24 dev {bridge}", f"link set {bridge} up"]
        for n, host in enumerate(HOSTS):
            ns, veth = s.ns(host), f"cfs{pid}v{n}"
            commands += [f"netns add {ns}", f"link add {veth} type veth peer name eth0 netns {ns}"]
            commands += [f"link set {veth} master {bridge} up", f"-n {ns} addr add {s.ip(host)}/24 dev eth0"]
            commands += [f"-n {ns} link set eth0 up", f"-n {ns} link set lo up"]
        for command in commands:
            run("ip", *command.split())
        data = workdir / "pg" / "data"
        data.parent.mkdir()
        shutil.chown(data.parent, "postgres", "postgres")  # its cluster, run as postgres
        pg_ctl(s, *f"-D {data} -U postgres -A trust -E UTF8 --no-locale --no-sync".split(), program="initdb")
        with open(data / "postgresql.conf", "a") as conf, open(data / "pg_hba.conf", "a") as hba:
            conf.write(f"listen_addresses = '{s.ip('db')}'\nport = {PG_PORT}\n")
            conf.write("unix_socket_directories = ''\nmax_connections = 200\n")
            hba.write(f"host all all {s.subnet}.0/24 trust\n")
        pg_ctl(s, "start")
        with psycopg.connect(s.database_url("postgres"), autocommit=True) as conn:
            conn.execute('CREATE DATABASE "confide"')
        password = secrets.token_hex(16)  # as production should have (README, "Redis")
        redis_url = f"redis://:{password}@{s.ip('redis')}:{REDIS_PORT}/0"
        s.redis = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
        redis = f"redis-server --bind {s.ip('redis')} --port {REDIS_PORT} --requirepass {password} --dir {workdir}"
        supervise(s, Service("redis", "redis-server", "redis", [*redis.split(), "--save", ""]))
        create_keyring(workdir / "keys")
        url = s.database_url().replace("postgresql://", "postgresql+psycopg://")
        env = harness.app_environment(workdir, url, redis_url, QUEUE_PREFIX, CONFIG_TOML.format(workdir=workdir))
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
        harness.migrate(env)
        with routing.in_process_app(env).app_context():
            routing.seed_staff(RESPONDERS)
            s.ring = current_keyring()
            db.engine.dispose()
        # The Procfile's processes on each host, run as systemd runs them (`sh -c 'exec …'`).
        procfile = dict(re.findall(r"^(\w+):\s*(.+)$", (ROOT / "Procfile").read_text(), re.M))
        units = [(host, "web", "gunicorn master", host) for host in WEB_HOSTS]
        for host in WORKER_HOSTS:
            units += [(f"{host}-worker{n + 1}", "worker", "rq worker", host) for n in range(WORKERS_PER_HOST)]
            units.append((f"{host}-clock", "clock", "clock", host))
        for name, process_type, kind, host in units:
            extra = {"WEB_WORKERS": "2", "CONFIDE_BIND": f"{s.ip(host)}:{WEB_PORT}"} if process_type == "web" else {}
            unit_env = {**env, "CONFIDE_LOG_FILE": str(workdir / "logs" / f"{name}.log"), **extra}
            supervise(s, Service(name, kind, host, ["sh", "-c", f"exec {procfile[process_type]}"], unit_env))
        config = HAPROXY_CFG.format(workdir=workdir, lb=s.ip("lb"), lb_port=LB_PORT)
        config += "".join(f"    server {host} {s.ip(host)}:{WEB_PORT} check\n" for host in WEB_HOSTS)
        (workdir / "haproxy.cfg").write_text(config)
        supervise(s, Service("haproxy", "haproxy", "lb", [haproxy, "-db", "-f", f"{workdir}/haproxy.cfg"]))
        deadline = time.monotonic() + 120
        while not (servers_up(s) and workers_whole(s)):
            if time.monotonic() > deadline:
                logs = sorted((workdir / "logs").glob("*"))
                tails = [f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in logs]
                raise SystemExit("Confide did not come up within 120 s:\n" + "\n".join(tails))
            time.sleep(0.5)
        yield s
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # no second Ctrl-C cuts the cleaning short
            signal.signal(signum, signal.SIG_IGN)
        with s.lock:  # no process starts again; remove_runs then kills them all
            s.ending.set()
        remove_runs(pid)


def report_answers(rng: random.Random, n: int) -> dict[str, object]:
    """A report as people write them: one in four named, about one in thirty in danger now."""
    answers: dict[str, object] = {key: rng.choice(choices.split()) for key, choices in ANSWERS.items()}
    answers["category"] = rng.choices(list(harness.CATEGORY_WEIGHTS), list(harness.CATEGORY_WEIGHTS.values()))[0]
    answers["narrative"] = " ".join(rng.sample(harness.SENTENCES, rng.randint(3, 6)))
    answers["danger_now"] = "yes" if rng.random() < 1 / 30 else "no"
    if rng.random() < 0.25:
        answers.update(identity="named", name=f"Reporter {n}", email=f"reporter{n}@example.org")
        answers.update(contact_email="y", legal_referral="y")
    return answers


def file_report(s: Soak, report: Report) -> None:
    """One reporter until shown a receipt: after an error, the same again (the form given back, else
    the same, with the same cookies); after 409 "already received", a new report."""

    def browser_to_lb(cookies: dict[str, str] | None = None) -> harness.Browser:
        browser = harness.Browser(LB_PORT, cookies)  # one connection, one cookie jar
        browser.conn = http.client.HTTPConnection(s.ip("lb"), LB_PORT, timeout=30)
        return browser

    def form(page: str) -> dict[str, str] | None:  # its hidden fields, if the page holds the form
        fields = harness.hidden_fields(page)
        return fields if fields.get("csrf_token") and fields.get("submission") else None

    rng = random.Random(s.args.seed * 1_000_003 + report.number)
    answers, tokens, browser = report_answers(rng, report.number), None, browser_to_lb()
    give_up = time.monotonic() + GIVE_UP_SECONDS
    try:
        while not s.ending.is_set():
            try:
                if tokens is None:
                    status, page = browser.request("GET", "/report")
                    tokens, seen = form(page) if status == 200 else None, status
                if tokens is not None:
                    status, page = browser.request("POST", "/report", {**tokens, **answers})
                    if status == 200 and (found := RECEIPT_RE.search(page)):
                        if (receipt := ReceiptCode.parse(found.group(1))) is None:
                            raise harness.ClientError(f"unreadable receipt {found.group(1)!r}")
                        with s.lock:
                            s.given[receipt.keyed_index(s.ring)] = (report.phase, time.monotonic())
                        return
                    report.refiled += status == 409
                    tokens, seen = None if status == 409 else form(page) or tokens, status
            except (OSError, http.client.HTTPException):
                browser.close()
                browser, seen = browser_to_lb(browser.cookies), 0
            with s.lock:
                report.seen[{0: "conn", 503: "503", 409: "409"}.get(seen, "5xx" if seen >= 500 else "other")] += 1
                report.waiting = True
            if time.monotonic() > give_up:
                report.gave_up = True
                return
            s.ending.wait(rng.uniform(*RETRY_PAUSE))
    except Exception as error:  # the bench's own
        s.errors.append(repr(error))
    finally:
        report.waiting = False
        browser.close()


def watch(s: Soak) -> None:
    """Four times a second: which receipts' cases are routed, how many wait, whether all is whole."""
    routable = list(ROUTABLE)
    conn: psycopg.Connection[Any] | None = None
    while not s.ending.wait(0.25):
        try:
            conn = conn or psycopg.connect(s.database_url(), autocommit=True, connect_timeout=2, options=TIMEOUT)
            with s.lock:
                pending = [index for index in s.given if index not in s.routed]
            sql = "SELECT receipt_index FROM cases WHERE receipt_index = ANY(%s) AND NOT routing_state = ANY(%s)"
            rows = conn.execute(sql, (pending, routable)).fetchall() if pending else []
            row = conn.execute("SELECT count(*) FROM cases WHERE routing_state = ANY(%s)", (routable,)).fetchone()
            s.waiting_cases, database, now = row[0] if row else -1, True, time.monotonic()
            with s.lock:
                s.routed.update((bytes(index), now) for (index,) in rows)
        except psycopg.Error:
            if conn is not None:
                conn.close()
            conn, database = None, False
        now = time.monotonic()
        with s.lock:
            reporters = not any(report.waiting for report in s.reports)
            oldest = max((now - at for index, (_, at) in s.given.items() if index not in s.routed), default=0.0)
        running = all(x.process is not None and x.process.poll() is None for x in s.services)
        parts = [database, reporters, oldest <= s.slack, running, servers_up(s), workers_whole(s)]
        s.samples.append((time.monotonic(), all(parts)))
    if conn is not None:
        conn.close()


def kill_web_host(s: Soak) -> str:
    """Every process of web1 (each time: web2 lives through), while it answers a request if one comes."""
    deadline = time.monotonic() + 5
    while not (busy := int(haproxy_servers(s).get("web1", {}).get("scur") or 0)) and time.monotonic() < deadline:
        time.sleep(0.005)
    return f"{kill_host(s, 'web1')}, {busy} request(s) in hand"


def kill_worker_host(s: Soak) -> str:
    """The host whose clock holds RQ's scheduler lock (deadline checks), the same each time."""
    pid = 0
    with contextlib.suppress(RedisError):
        holder = s.redis.get(f"rq:scheduler-lock:{QUEUE_PREFIX}-urgent") or b"-"
        pid = int(s.redis.hget(f"rq:scheduler:{holder.decode()}", "pid") or 0)
    s.worker_victim = s.worker_victim or next((h for h in WORKER_HOSTS if pid in netns_pids(s.ns(h))), "work1")
    return kill_host(s, s.worker_victim)


Fault = Callable[[Soak], str]  # does it, and says what it did
FAULTS: dict[str, Fault] = {
    "kill web host": kill_web_host,
    "kill worker host": kill_worker_host,
    "restart Redis (empty)": lambda s: kill_host(s, "redis"),  # the supervisor starts it again, empty
    "restart PostgreSQL (fast)": lambda s: pg_ctl(s, "-m", "fast", "restart").strip().splitlines()[-1],
}


def run_phase(s: Soak, pool: ThreadPoolExecutor, name: str, numbers: range, fault: Fault | None) -> float | None:
    """Reporters arrive at a steady rate; a quarter of the way in, the fault. Returns its drain."""

    def release() -> None:
        for number in numbers:
            if s.ending.is_set():
                return
            report = Report(number, name)
            with s.lock:
                s.reports.append(report)
            pool.submit(file_report, s, report)
            s.ending.wait(1 / s.args.rate)

    start = since = time.monotonic()
    releaser = threading.Thread(target=release, daemon=True)
    releaser.start()
    if fault is not None:
        s.ending.wait(len(numbers) / 4 / s.args.rate)
        since = time.monotonic()
        print(f"  {since - start:5.1f} s: {name}: {fault(s)}", flush=True)
    releaser.join()
    drain = None  # seconds from the fault until all was whole again after it was first seen broken
    while drain is None and time.monotonic() - since < s.args.timeout and not s.ending.is_set():
        time.sleep(0.25)
        after = [(t, whole) for t, whole in list(s.samples) if t >= since]
        broken = next((i for i, (_, whole) in enumerate(after) if not whole), None)
        if broken is None:  # a fault takes a moment to show: "never broken" counts after 3 s
            drain = 0.0 if time.monotonic() - since > 3 else None
        else:
            drain = next((t - since for t, whole in after[broken:] if whole), None)
    print(f"  {name}: {len(numbers)} reports; whole again after {'—' if drain is None else f'{drain:.1f} s'}")
    return drain


def route_times(s: Soak, phase: str) -> list[float]:
    """Seconds from each receipt of ``phase`` to its case seen routed, sorted."""
    with s.lock:
        return sorted(max(0.0, s.routed[i] - at) for i, (p, at) in s.given.items() if p == phase and i in s.routed)


Procs = dict[tuple[int, str], tuple[str, int]]  # (pid, start time): kind, RSS in kB


def memory(s: Soak) -> Procs:
    """Every process of every host, its kind (that of its service, else gunicorn worker or postgres) and RSS."""
    kinds = {x.process.pid: x.kind for x in s.services if x.process}
    found = {}
    for host in HOSTS:
        for pid in netns_pids(s.ns(host)):
            try:
                started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
                rss = int(re.findall(r"^VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)[0])
            except (OSError, IndexError):
                continue  # gone meanwhile
            found[(pid, started)] = (kinds.get(pid, "postgres" if host == "db" else "gunicorn worker"), rss)
    return found


def memory_figures(start: Procs, end: Procs) -> dict[str, Any]:
    """Per kind: processes and mean MB at start and end, the largest growth of one that lived through."""
    figures: dict[str, Any] = {}
    for kind in KINDS:
        growth = [end[p][1] / start[p][1] - 1 for p in start.keys() & end.keys() if start[p][0] == kind]
        figures[kind] = {"max_growth": round(max(growth), 3) if growth else None}
        for when, procs in (("start", start), ("end", end)):
            kb = [rss for k, rss in procs.values() if k == kind]
            figures[kind] |= {f"{when}_n": len(kb), f"{when}_mb": round(sum(kb) / len(kb) / 1024, 1) if kb else 0.0}
    figures["all"] = {"start_mb": round(sum(kb for _, kb in start.values()) / 1024, 1)}
    figures["all"]["end_mb"] = round(sum(kb for _, kb in end.values()) / 1024, 1)
    return figures


CASES_SQL = """
SELECT c.receipt_index, c.routing_state, c.routing_round, c.signals::text LIKE '%"resent"%',
       (SELECT count(*) FROM routing_rounds r WHERE r.case_id = c.id),
       (SELECT count(DISTINCT n.staff_id) FROM notifications n WHERE n.case_id = c.id AND n.kind = 'assigned')
FROM cases c
"""


def count_outcomes(s: Soak) -> dict[str, int]:
    """Receipts against cases, and each case's routing, from the database (no plaintext)."""
    with psycopg.connect(s.database_url(), connect_timeout=5) as conn:
        rows = conn.execute(CASES_SQL).fetchall()
    per_receipt = Counter(bytes(row[0]) for row in rows)
    o = {
        "reports": len(s.reports),
        "receipts": len(s.given),
        "cases": len(rows),
        "routed_once": sum(row[1] not in ROUTABLE and row[2] == 1 and row[4] == 1 and row[5] <= 1 for row in rows),
        "routed_more_than_once": sum(row[4] > 1 or row[5] > 1 for row in rows),
        "receipt_without_case": sum(per_receipt[index] == 0 for index in s.given),
        "case_never_routed": sum(row[1] in ROUTABLE or row[4] == 0 for row in rows),
        "receipt_with_two_cases": sum(per_receipt[index] > 1 for index in s.given),
        "case_without_receipt": sum(bytes(row[0]) not in s.given for row in rows),
        "danger_report_marked_resent": sum(bool(row[3]) for row in rows),
        "refiled_after_already_received": sum(r.refiled for r in s.reports),
        "gave_up": sum(r.gave_up for r in s.reports),
    }
    o["lost"] = o["receipt_without_case"] + o["case_never_routed"]
    o["duplicated"] = o["receipt_with_two_cases"] + o["case_without_receipt"]
    return o


def soak(s: Soak) -> tuple[dict[str, float | None], bool, dict[str, Any]]:
    """The baseline, each fault in turn, the wait until all is routed: drains, all routed, memory."""
    args, baseline = s.args, "baseline (no fault)"
    threading.Thread(target=watch, args=(s,), name="watcher", daemon=True).start()
    pool = ThreadPoolExecutor(max_workers=CLIENTS, thread_name_prefix="reporter")
    plan = [
        (f"{name} #{r + 1}" if args.rounds > 1 else name, f) for r in range(args.rounds) for name, f in FAULTS.items()
    ]
    per_fault = args.reports // len(plan)
    try:
        drains = {baseline: run_phase(s, pool, baseline, range(1, args.baseline + 1), None)}
        if base := route_times(s, baseline):  # what counts as a backlog from now on
            s.slack = max(2.0, 3 * harness.percentile(base, 95) / 1000)
        mem_start, first = memory(s), args.baseline + 1
        for n, (name, fault) in enumerate(plan):
            count = per_fault if n < len(plan) - 1 else args.reports - per_fault * n
            drains[name] = run_phase(s, pool, name, range(first, first + count), fault)
            first += count
        pool.shutdown(wait=True)  # every reporter done; then no case may be left waiting for routing
        deadline = time.monotonic() + args.timeout
        while not (all_routed := s.waiting_cases == 0 and len(s.routed) == len(s.given)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        return drains, all_routed, memory_figures(mem_start, memory(s))
    finally:
        s.ending.set()  # the reporters stop at their next step, the watcher too
        pool.shutdown(wait=False, cancel_futures=True)


def print_figures(s: Soak, drains: dict[str, float | None], all_routed: bool, mem: dict[str, Any]) -> dict[str, Any]:
    """Print the tables and findings; return the figures for the JSON line, with the exit status."""
    phases, row = [], "{:<28}{:>8}{:>6}{:>6}{:>6}{:>6}{:>13}{:>7}{:>7}{:>9}"
    print("\n" + row.format("phase", "reports", *SEEN, "route p50 s", "p95 s", "max s", "drain s"))
    for name, drain in drains.items():
        seen: Counter[str] = sum((r.seen for r in s.reports if r.phase == name), Counter())
        times = route_times(s, name)
        route = [round(harness.percentile(times, p) / 1000, 3) if times else None for p in (50, 95, 100)]
        phases.append({"phase": name, "reports": sum(r.phase == name for r in s.reports), "seen": dict(seen)})
        phases[-1] |= {"route_p50_s": route[0], "route_p95_s": route[1], "route_max_s": route[2]}
        phases[-1]["drain_s"] = None if drain is None else round(drain, 1)
        cells = ["—" if x is None else f"{x:.2f}" for x in route] + ["never" if drain is None else f"{drain:.1f}"]
        print(row.format(name, phases[-1]["reports"], *(seen[g] for g in SEEN), *cells))
    print("503, 5xx, conn, 409: what reporters saw instead of a receipt. drain: from the fault until every process")
    print("runs, HAProxy sees both web hosts, every worker keeps its liveness key, the database answers, no reporter")
    print(f"waits to send again and no receipt waits over {s.slack:.1f} s for routing.\n")
    outcomes = count_outcomes(s)
    print(textwrap.fill(", ".join(f"{key.replace('_', ' ')} {n}" for key, n in outcomes.items()), 110) + "\n")
    row = "{:<18}{:>8}{:>9}{:>7}{:>9}{:>12}"
    print(row.format("process", "start n", "MB each", "end n", "MB each", "max growth"))
    for kind in KINDS:
        f, growth = mem[kind], "—" if mem[kind]["max_growth"] is None else f"{mem[kind]['max_growth']:+.1%}"
        print(row.format(kind, f["start_n"], f"{f['start_mb']:.1f}", f["end_n"], f"{f['end_mb']:.1f}", growth))
    total = mem["all"]
    print(f"all processes: {total['start_mb']:.0f} MB after the baseline, {total['end_mb']:.0f} MB at the end")
    drained = [d for d in list(drains.values())[1:] if d is not None]
    logs = [p.read_text(errors="replace").splitlines() for p in (s.workdir / "logs").glob("*")]
    log_lines = sum(1 for lines in logs for line in lines if LOG_MARK_RE.search(line))
    print(f"worst time to drain {max(drained, default=0):.1f} s (target ≤ {TARGET_DRAIN_S:g} s); ", end="")
    print(f"everything routed at the end: {all_routed}; log warnings and errors: {log_lines} lines")
    print(f"processes that exited unkilled: {len(s.unexpected_exits)}", *s.unexpected_exits[:10], sep="\n  ")
    for error in s.errors[:5]:
        print(f"  bench error: {error}", file=sys.stderr)
    # 1: a report lost, duplicated, not routed once or given up, a fault never drained, the bench's own
    # errors; 2: only a target missed.
    o, growth = outcomes, [mem[kind]["max_growth"] or 0 for kind in KINDS]
    broken = [o["lost"], o["duplicated"], o["routed_once"] != o["cases"], o["gave_up"], s.errors, not all_routed]
    missed = max(d or 0 for d in drains.values()) > TARGET_DRAIN_S or max(growth) > TARGET_GROWTH
    found = {"bench": "soak", "cpus": os.cpu_count(), "outcomes": outcomes, "all_routed": all_routed}
    found |= {"worst_drain_s": round(max(drained), 1) if drained else None, "phases": phases, "memory": mem}
    found |= {"unexpected_exits": len(s.unexpected_exits), "log_lines": log_lines, "bench_errors": len(s.errors)}
    return found | {"status": 1 if any(broken) or None in drains.values() else 2 if missed else 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 reports, each fault once (CI)")
    parser.add_argument("--reports", type=int, help="reports filed through the faults (2,000; --quick 200)")
    parser.add_argument("--rate", type=float, help="reporters arriving per second (8; --quick 4)")
    parser.add_argument("--rounds", type=int, help="times each fault comes (2; --quick 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-logs", type=Path, metavar="DIR", help="copy every process's log here at the end")
    args = parser.parse_args()
    for key, quick, full in (("reports", 200, 2000), ("rate", 4.0, 8.0), ("rounds", 1, 2)):
        setattr(args, key, getattr(args, key) or (quick if args.quick else full))
    args.baseline = max(20, args.reports // 4)
    args.timeout = 120.0 if args.quick else 180.0  # to drain after a fault
    if os.geteuid() != 0:
        parser.error("run as root: it makes network namespaces")
    if not (20 <= args.reports <= 100_000 and 0.2 <= args.rate <= 200 and 1 <= args.rounds <= 10):
        parser.error("reports 20-100,000, rate 0.2-200 per second, rounds 1-10")
    began = time.monotonic()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleaned up as after Ctrl-C
    print(f"soak: {args.baseline} + {args.reports} reports, {4 * args.rounds} faults, {args.rate:g} a second")
    with cluster(args) as s:
        print(f"  hosts up after {time.monotonic() - began:.0f} s ({s.subnet}.0/24, {s.workdir})", flush=True)
        try:
            found = print_figures(s, *soak(s))
        finally:
            if args.keep_logs:
                shutil.copytree(s.workdir / "logs", args.keep_logs, dirs_exist_ok=True)
    print(json.dumps(found | {"elapsed_s": round(time.monotonic() - began, 1)}, separators=(",", ":")), flush=True)
    return int(found["status"])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; everything the bench made is removed", file=sys.stderr)
        sys.exit(130)
