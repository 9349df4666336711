"""Soak test: Confide on seven hosts (network namespaces) behind HAProxy, through faults.

Run as root:  .venv/bin/python bench/soak.py [--quick]

Two web hosts (the Procfile's `web`), two worker hosts (two `worker`, one `clock` each), a
PostgreSQL cluster and a redis-server of the bench's own, and Debian's HAProxy checking
/readyz; any process that exits starts again 2 s later, as under systemd. Reporters file
through HAProxy, first with no fault, then while every process of a web host is killed,
every process of a worker host, Redis restarts empty and PostgreSQL restarts; shown an
error, a reporter sends what she typed again. Counted from the database by the receipts'
blind indexes (nothing decrypted): reports lost, filed twice, routed other than once; the
time each fault took to heal; what reporters saw; each process's memory. A table, then one
JSON line. Exit 0: nothing lost, duplicated or routed twice, every fault healed; 1: not so;
2: a target missed (a fault healed in over 60 s, a process grew over 10%). Everything it
made is removed at the end, even on Ctrl-C.
"""

from __future__ import annotations

import argparse
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
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from redis import Redis  # noqa: E402
from redis.exceptions import RedisError  # noqa: E402

from bench import harness, routing  # noqa: E402
from bench.intake import RECEIPT_RE  # noqa: E402

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
# A kept-alive connection closed as a request went out: sent again at once on a new one, as
# browsers do (harness.Browser), unseen by the reporter.
RESENT = "browser resent on a new connection"

CONFIG_TOML = """\
# Written by bench/soak.py for one run; removed afterwards.
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
    stats socket {socket} mode 600 level admin
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
{servers}
"""


# ------------------------------------------------------------------------ the machine


def run(*command: str, timeout: float = 120, cwd: Path | None = None) -> str:
    """Run a command; stop the bench with its output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if result.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def netns_pids(namespace: str) -> list[int]:
    """The processes living in a network namespace (none if it is gone)."""
    result = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
    return [int(pid) for pid in result.stdout.split()]


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def ensure_haproxy() -> str:
    """Debian's haproxy, installed as the other benches and .ci/run install things."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found:
        return found
    print("Installing haproxy (Debian package)…", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "haproxy"]):
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return "/usr/sbin/haproxy"


@dataclass(frozen=True)
class Network:
    """A bridge in this namespace and one namespace per host, each with a veth on it."""

    pid: int
    subnet: str  # three octets: "10.213.7"

    def ns(self, host: str) -> str:
        return f"cfsoak-{self.pid}-{host}"

    def ip(self, host: str) -> str:
        return f"{self.subnet}.{10 + HOSTS.index(host)}"

    @property
    def bridge(self) -> str:
        return f"cfs{self.pid}br"

    def up(self) -> None:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        for n, host in enumerate(HOSTS):
            ns, veth = self.ns(host), f"cfs{self.pid}v{n}"
            run("ip", "netns", "add", ns)
            run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            run("ip", "link", "set", veth, "master", self.bridge, "up")
            run("ip", "-n", ns, "addr", "add", f"{self.ip(host)}/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")

    def down(self) -> None:
        """Kill whatever still lives in the namespaces, then remove them and the bridge."""
        remove_network(self.pid)


def remove_network(pid: int) -> None:
    """Everything a run with this pid made on the network side, if it is still there."""
    for _ in range(3):
        for ns in _namespaces(pid):
            kill_all(netns_pids(ns))
        time.sleep(0.2)
    for ns in _namespaces(pid):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    for n in range(len(HOSTS)):
        subprocess.run(["ip", "link", "del", f"cfs{pid}v{n}"], capture_output=True)
    subprocess.run(["ip", "link", "del", f"cfs{pid}br"], capture_output=True)


def _namespaces(pid: int | None = None) -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in listed.splitlines() if line.startswith("cfsoak-")]
    return [name for name in names if pid is None or name.startswith(f"cfsoak-{pid}-")]


def reap_leftovers() -> None:
    """Remove what an earlier run that was killed outright left behind."""
    for pid in {int(name.split("-")[1]) for name in _namespaces()}:
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            print(f"Removing the namespaces of an earlier run (pid {pid})…", flush=True)
            remove_network(pid)
            for left in Path(tempfile.gettempdir()).glob(f"confide-soak-{pid}-*"):
                shutil.rmtree(left, ignore_errors=True)


def free_subnet(pid: int) -> str:
    """A /24 in 10.213.0.0/16 that no route of this machine uses."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for n in range(256):
        subnet = f"10.213.{(pid + n) % 256}"
        if f"{subnet}." not in routes:
            return subnet
    raise SystemExit("no free subnet in 10.213.0.0/16")


# ------------------------------------------------------------------- the supervisor


@dataclass(eq=False)
class Service:
    """One supervised process: a unit of systemd in production."""

    name: str
    kind: str
    host: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # Each exit: when, its status, and whether the bench had killed it.
    exits: list[tuple[float, int, bool]] = field(default_factory=list)
    killed: bool = False


class Supervisor:
    """Keeps every service running: one that exits starts again RESTART_SECONDS later."""

    def __init__(self, net: Network, logs: Path) -> None:
        self.net, self.logs = net, logs
        self.services: list[Service] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def add(self, service: Service) -> None:
        self.services.append(service)
        threading.Thread(target=self._keep, args=(service,), name=service.name, daemon=True).start()

    def _keep(self, service: Service) -> None:
        while True:
            with self.lock:
                if self.stopping.is_set():
                    return
                with open(self.logs / f"{service.name}.out", "ab") as out:
                    service.process = subprocess.Popen(
                        ["ip", "netns", "exec", self.net.ns(service.host), *service.command],
                        cwd=ROOT,
                        env=service.env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # Ctrl-C is the bench's to handle
                    )
                service.starts += 1
            status = service.process.wait()
            service.exits.append((time.monotonic(), status, service.killed))
            service.killed = False
            if self.stopping.wait(RESTART_SECONDS):
                return

    def running(self) -> bool:
        return all(s.process is not None and s.process.poll() is None for s in self.services)

    def kill_host(self, host: str) -> None:
        """SIGKILL every process of a host, as a power cut would."""
        for service in self.services:
            if service.host == host:
                service.killed = True
        for _ in range(2):  # a master may have forked between listing and killing
            kill_all(netns_pids(self.net.ns(host)))
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM every process (each finishes what it is doing), SIGKILL after 15 s."""
        with self.lock:
            self.stopping.set()
        live = [s.process for s in self.services if s.process and s.process.poll() is None]
        for process in live:
            process.terminate()
        deadline = time.monotonic() + 15
        for process in live:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


# -------------------------------------------------------------- PostgreSQL, HAProxy


class Postgres:
    """A cluster of the bench's own in the db namespace, run by Debian's pg_ctl as postgres."""

    def __init__(self, net: Network, workdir: Path) -> None:
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if not versions:
            raise SystemExit("PostgreSQL's initdb not found in /usr/lib/postgresql/*/bin")
        self.bin, self.net = versions[-1].parent, net
        self.home = workdir / "pg"
        self.data = self.home / "data"
        self.url = f"postgresql://postgres@{net.ip('db')}:{PG_PORT}"

    def _as_postgres(self, *command: str, timeout: float = 120) -> str:
        return run(
            "ip",
            "netns",
            "exec",
            self.net.ns("db"),
            "runuser",
            "-u",
            "postgres",
            "--",
            *command,
            timeout=timeout,
            cwd=self.home,
        )

    def _ctl(self, *args: str) -> str:
        return self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.home / "postgres.log"),
            "-w",
            "-t",
            "60",
            *args,
        )

    def init(self) -> None:
        self.home.mkdir()
        shutil.chown(self.home, "postgres", "postgres")
        self._as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '{self.net.ip('db')}'\nport = {PG_PORT}\n"
                "unix_socket_directories = ''\nmax_connections = 200\n"
            )
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.net.subnet}.0/24 trust\n")

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.net.ns("db"),
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                cwd=self.home,
                timeout=60,
            )

    def create_database(self, name: str) -> str:
        with psycopg.connect(f"{self.url}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return f"{self.url.replace('postgresql://', 'postgresql+psycopg://')}/{name}"


def haproxy_config(net: Network, workdir: Path) -> Path:
    servers = "\n".join(f"    server {host} {net.ip(host)}:{WEB_PORT} check" for host in WEB_HOSTS)
    path = workdir / "haproxy.cfg"
    path.write_text(
        HAPROXY_CFG.format(socket=workdir / "haproxy.sock", lb=net.ip("lb"), lb_port=LB_PORT, servers=servers)
    )
    return path


def haproxy_servers(sock: Path) -> dict[str, dict[str, str]]:
    """HAProxy's figures for each web host (its stats socket's "show stat"); {} if it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(1)
            client.connect(str(sock))
            client.sendall(b"show stat\n")
            data = b""
            while chunk := client.recv(65536):
                data += chunk
    except OSError:
        return {}
    lines = data.decode().splitlines()
    header = lines[0].lstrip("# ").split(",") if lines else []
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
    return {row["svname"]: row for row in rows if row.get("pxname") == "web" and row.get("svname") in WEB_HOSTS}


def haproxy_servers_up(sock: Path) -> bool:
    """Whether HAProxy sees every web host UP."""
    servers = haproxy_servers(sock)
    return all(servers.get(host, {}).get("status") == "UP" for host in WEB_HOSTS)


# ------------------------------------------------------------------------ the cluster


@dataclass
class Cluster:
    """Everything the run made, and how to reach it."""

    net: Network
    workdir: Path
    postgres: Postgres
    supervisor: Supervisor
    database_url: str  # for psycopg
    redis_url: str
    ring: Any  # the keyring, for the receipts' blind indexes only
    worker_victim: str | None = None  # the worker host the faults kill

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=2)


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    pairs = [line.split(":", 1) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return {name.strip(): command.strip() for name, command in pairs}


def app_services(net: Network, env: dict[str, str], logs: Path) -> list[Service]:
    """The Procfile's processes on each host, run as systemd runs them (`sh -c 'exec …'`)."""
    commands = procfile()

    def service(name: str, kind: str, host: str, **extra: str) -> Service:
        env_ = {**env, "CONFIDE_LOG_FILE": str(logs / f"{name}.log"), **extra}
        return Service(name, kind, host, ["sh", "-c", f"exec {commands[kind]}"], env_)

    services = [
        service(host, "web", host, WEB_WORKERS="2", CONFIDE_BIND=f"{net.ip(host)}:{WEB_PORT}") for host in WEB_HOSTS
    ]
    for host in WORKER_HOSTS:
        services += [service(f"{host}-worker{n}", "worker", host) for n in range(1, WORKERS_PER_HOST + 1)]
        services.append(service(f"{host}-clock", "clock", host))
    return services


def seed(env: dict[str, str]) -> Any:
    """The responders (as bench/routing.py makes them); returns the app's keyring."""
    from app.extensions import db
    from app.keystore import current_keyring

    app = routing.in_process_app(env)
    with app.app_context():
        routing.seed_staff(RESPONDERS)
        ring = current_keyring()
        db.engine.dispose()
    return ring


@contextmanager
def cluster() -> Iterator[Cluster]:
    """Build the hosts and start every process; take it all down however the block ends."""
    from app.crypto import create_keyring

    pid = os.getpid()
    reap_leftovers()
    haproxy = ensure_haproxy()
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix=f"confide-soak-{pid}-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        workdir.chmod(0o711)  # PostgreSQL, run as postgres, keeps its cluster in here
        (workdir / "logs").mkdir()
        net = Network(pid, free_subnet(pid))
        stack.callback(net.down)
        net.up()
        postgres = Postgres(net, workdir)
        stack.callback(postgres.stop)
        postgres.init()
        postgres.start()
        supervisor = Supervisor(net, workdir / "logs")
        stack.callback(supervisor.stop)
        password = secrets.token_hex(16)  # as production should have (README, "Redis")
        redis_url = f"redis://:{password}@{net.ip('redis')}:{REDIS_PORT}/0"
        supervisor.add(
            Service(
                "redis",
                "redis",
                "redis",
                [
                    "redis-server",
                    "--bind",
                    net.ip("redis"),
                    "--port",
                    str(REDIS_PORT),
                    "--requirepass",
                    password,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(workdir),
                ],
                dict(os.environ),
            )
        )
        database_url = postgres.create_database("confide")
        create_keyring(workdir / "keys")
        env = harness.app_environment(
            workdir, database_url, redis_url, QUEUE_PREFIX, CONFIG_TOML.format(workdir=workdir)
        )
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
        harness.migrate(env)
        ring = seed(env)
        for service in app_services(net, env, workdir / "logs"):
            supervisor.add(service)
        supervisor.add(
            Service(
                "haproxy", "haproxy", "lb", [haproxy, "-db", "-f", str(haproxy_config(net, workdir))], dict(os.environ)
            )
        )
        built = Cluster(net, workdir, postgres, supervisor, f"{postgres.url}/confide", redis_url, ring)
        for signum in (signal.SIGINT, signal.SIGTERM):  # first thing on the way out: no second Ctrl-C cuts it short
            stack.callback(signal.signal, signum, signal.SIG_IGN)
        wait_until_serving(built)
        yield built


def wait_until_serving(c: Cluster, timeout: float = 120) -> None:
    """Until HAProxy sees both web hosts up and every worker keeps its liveness key."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if haproxy_servers_up(c.workdir / "haproxy.sock") and workers_whole(c, {}):
            return
        time.sleep(0.5)
    tails = [
        f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(c.logs.glob("*")) if p.stat().st_size
    ]
    raise SystemExit(f"Confide did not come up within {timeout} s:\n" + "\n".join(tails))


def workers_whole(c: Cluster, pids: dict[str, int]) -> bool:
    """Whether each worker process keeps a liveness key (app.triage.queue.worker_alive_key)
    and no key of a killed one lingers (the sweep queues a dead worker's job again only
    once its key is gone). ``pids`` keeps each worker's pid by name: RQ forgets it when
    Redis restarts, while the worker goes on under the same name."""
    try:
        with c.redis() as redis:
            names = [key.decode().rsplit(":", 1)[1] for key in redis.scan_iter(f"{QUEUE_PREFIX}:alive:*")]
            for name in names:
                if name not in pids and (pid := redis.hget(f"rq:worker:{name}", "pid")):
                    pids[name] = int(pid)
    except RedisError:
        return False
    running = {
        s.process.pid for s in c.supervisor.services if s.kind == "worker" and s.process and s.process.poll() is None
    }
    return len(running) == len(WORKER_HOSTS) * WORKERS_PER_HOST and {pids.get(name) for name in names} == running


def rq_registered_workers(c: Cluster) -> int:
    """Workers RQ itself knows (its worker set, each with its pid): what `rq info` and the
    app's /metrics count."""
    try:
        with c.redis() as redis:
            return sum(1 for key in redis.smembers("rq:workers") if redis.hget(key, "pid"))
    except RedisError:
        return -1


def scheduler_holder(c: Cluster) -> str | None:
    """The host whose clock holds RQ's scheduler lock of both queues (it moves due deadline
    checks onto the queue), or None: the lock is free, split, or held by a dead clock."""
    holders = set()
    try:
        with c.redis() as redis:
            for queue in ("urgent", "default"):
                name = redis.get(f"rq:scheduler-lock:{QUEUE_PREFIX}-{queue}")
                beat = redis.hget(f"rq:scheduler:{name.decode()}", "last_heartbeat") if name else None
                pid = redis.hget(f"rq:scheduler:{name.decode()}", "pid") if name else None
                if not beat or time.time() - _utc_seconds(beat.decode()) > 5:
                    return None  # a clock beats once a second while it holds the lock
                holders.add(pid)
    except RedisError:
        return None
    if len(holders) != 1:
        return None
    pid = holders.pop()
    return next((h for h in WORKER_HOSTS if pid and int(pid) in netns_pids(c.net.ns(h))), "?")


def _utc_seconds(stamp: str) -> float:
    """Seconds since the epoch of one of RQ's UTC times ("2026-12-03T17:02:14.158781Z")."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


# ------------------------------------------------------------------------ the reporters


def report_answers(rng: random.Random, n: int) -> dict[str, object]:
    """A report as people write them: a category, a few sentences, the usual answers; one in
    four named, about one in thirty in danger now."""
    categories, weights = zip(*harness.CATEGORY_WEIGHTS.items(), strict=True)
    answers: dict[str, object] = {
        "identity": "anonymous",
        "category": rng.choices(categories, weights)[0],
        "narrative": " ".join(rng.sample(harness.SENTENCES, rng.randint(3, 6))),
        "perpetrator": rng.choice(["client", "employer", "coworker"]),
        "setting": rng.choice(["clinic", "franchise", "outcall", "hotel"]),
        "when": rng.choice(["72h", "week", "month", "year"]),
        "county": rng.choice(["hartford", "new_haven", "fairfield", "outside"]),
        "danger_now": "yes" if rng.random() < 1 / 30 else "no",
        "injured": rng.choice(["no", "no", "unsure"]),
        "ongoing": rng.choice(["yes", "no", "unsure"]),
        "language": "en",
        "peer_support": "y",
    }
    if rng.random() < 0.25:
        answers.update(
            identity="named",
            name=f"Reporter {n}",
            email=f"reporter{n}@example.org",
            contact_email="y",
            legal_referral="y",
        )
    return answers


class LbBrowser(harness.Browser):
    """harness.Browser (one connection, one cookie jar), to the load balancer's address."""

    def __init__(self, address: tuple[str, int], cookies: dict[str, str] | None = None) -> None:
        super().__init__(address[1], cookies)
        self.conn = http.client.HTTPConnection(*address, timeout=30)


@dataclass(eq=False)
class Report:
    """What one reporter typed, and what became of it."""

    number: int
    phase: str
    receipts: list[bytes] = field(default_factory=list)  # their blind indexes
    seen: Counter[str] = field(default_factory=Counter)  # each answer that was not a receipt
    waiting: bool = False  # shown an error, she will send it again
    gave_up: bool = False
    refiled: int = 0  # new forms after "this report was already received"
    slowest: float = 0.0  # the longest she waited for one page, in seconds

    def count_resent(self, browser: harness.Browser) -> None:
        if browser.reconnects:
            self.seen[RESENT] += browser.reconnects

    def request(self, browser: harness.Browser, method: str, form: dict[str, object] | None = None) -> tuple[int, str]:
        """One request for /report, timed."""
        start = time.monotonic()
        try:
            return browser.request(method, "/report", form)
        finally:
            self.slowest = max(self.slowest, time.monotonic() - start)


class Ledger:
    """Every report and receipt; shared by the reporters, the watcher and the monitor."""

    def __init__(self, ring: Any) -> None:
        from app.intake.receipts import ReceiptCode

        self.ring, self.parse = ring, ReceiptCode.parse
        self.lock = threading.Lock()
        self.reports: list[Report] = []
        self.given: dict[bytes, tuple[Report, float]] = {}  # receipt index: report, when shown
        self.routed: dict[bytes, float] = {}  # receipt index: when first seen routed

    def new(self, number: int, phase: str) -> Report:
        report = Report(number, phase)
        with self.lock:
            self.reports.append(report)
        return report

    def receipt(self, report: Report, shown: str) -> None:
        receipt = self.parse(shown)
        if receipt is None:
            raise harness.ClientError(f"unreadable receipt {shown!r}")
        index = receipt.keyed_index(self.ring)
        with self.lock:
            report.receipts.append(index)
            report.waiting = False
            self.given[index] = (report, time.monotonic())

    def saw(self, report: Report, what: str) -> None:
        with self.lock:
            report.seen[what] += 1
            report.waiting = True

    def unrouted(self) -> list[bytes]:
        with self.lock:
            return [index for index in self.given if index not in self.routed]

    def mark_routed(self, indexes: list[bytes], when: float) -> None:
        with self.lock:
            for index in indexes:
                self.routed.setdefault(index, when)

    def waiting(self) -> int:
        with self.lock:
            return sum(report.waiting for report in self.reports)

    def oldest_unrouted(self, now: float) -> float:
        """Seconds since the oldest receipt whose case is not routed yet was shown."""
        with self.lock:
            return max((now - at for index, (_, at) in self.given.items() if index not in self.routed), default=0.0)

    def route_times(self, phase: str) -> list[float]:
        """For each receipt of ``phase`` whose case was seen routed: seconds from receipt to routed."""
        with self.lock:
            return [
                max(0.0, self.routed[i] - at)
                for i, (r, at) in self.given.items()
                if r.phase == phase and i in self.routed
            ]


@dataclass
class Run:
    """What the reporters and the faults share."""

    cluster: Cluster
    ledger: Ledger
    seed: int
    stopping: threading.Event = field(default_factory=threading.Event)
    slack: float = 2.0  # a case routed within this many seconds is not a backlog
    errors: list[str] = field(default_factory=list)  # the bench's own failures

    @property
    def lb(self) -> tuple[str, int]:
        return self.cluster.net.ip("lb"), LB_PORT

    def note_failure(self, done: Any) -> None:
        """A reporter's thread that failed: the bench's own error, counted as one."""
        if not done.cancelled() and done.exception() is not None:
            self.errors.append(repr(done.exception()))


def form_tokens(page: str) -> dict[str, str] | None:
    """The report form's hidden fields, if the page holds the form."""
    fields = harness.hidden_fields(page)
    return fields if fields.get("csrf_token") and fields.get("submission") else None


def file_report(run_: Run, report: Report, rng: random.Random) -> None:
    """One reporter: the form, her answers, sent until a receipt is shown (or she gives up).

    After an error she sends the same again a few seconds later: the form the app gave
    back, else the same form (Back, then send). Told that the form was already received,
    she makes a new report, as that page asks."""
    answers = report_answers(rng, report.number)
    browser, tokens = LbBrowser(run_.lb), None
    give_up = time.monotonic() + GIVE_UP_SECONDS
    try:
        while not run_.stopping.is_set():
            try:
                if tokens is None:
                    status, page = report.request(browser, "GET")
                    tokens, seen = form_tokens(page) if status == 200 else None, f"GET {status}"
                if tokens is not None:
                    status, page = report.request(browser, "POST", {**tokens, **answers})
                    if status == 200 and (found := RECEIPT_RE.search(page)):
                        run_.ledger.receipt(report, found.group(1))
                        return
                    given_back = form_tokens(page)
                    seen = f"POST {status}" + (" (form given back)" if given_back else "")
                    report.refiled += status == 409
                    tokens = None if status == 409 else given_back or tokens
            except (OSError, http.client.HTTPException):
                seen = "connection error"
                browser.close()
                report.count_resent(browser)
                browser = LbBrowser(run_.lb, browser.cookies)
            run_.ledger.saw(report, seen)
            if time.monotonic() > give_up:
                report.gave_up = True
                return
            run_.stopping.wait(rng.uniform(*RETRY_PAUSE))
    finally:
        report.waiting = False
        report.count_resent(browser)
        browser.close()


def release(run_: Run, pool: ThreadPoolExecutor, phase: str, numbers: range, rate: float) -> None:
    """Reporters arriving at a steady ``rate`` per second, each filing on a pool thread."""
    for number in numbers:
        if run_.stopping.is_set():
            return
        report = run_.ledger.new(number, phase)
        future = pool.submit(file_report, run_, report, random.Random(run_.seed * 1_000_003 + number))
        future.add_done_callback(run_.note_failure)
        run_.stopping.wait(1 / rate)


def seen_group(what: str) -> str:
    """A reporter-visible answer, in the groups the table counts."""
    if what == "connection error":
        return "conn"
    if what == RESENT:
        return "unseen"
    status = int(what.split()[1])
    return {503: "503", 409: "409"}.get(status, "5xx" if status >= 500 else "other")


# ---------------------------------------------------------------------- the watching


class Watcher(threading.Thread):
    """Polls the database: which receipts' cases are routed, and how many cases wait."""

    def __init__(self, run_: Run) -> None:
        super().__init__(name="watcher", daemon=True)
        self.run_, self.stop = run_, threading.Event()
        self.answered_at = 0.0
        self.waiting_cases = -1

    def run(self) -> None:
        from app.triage.models import ROUTABLE

        conn: psycopg.Connection[Any] | None = None
        while not self.stop.wait(0.2):
            try:
                if conn is None:
                    conn = psycopg.connect(
                        self.run_.cluster.database_url,
                        autocommit=True,
                        connect_timeout=2,
                        options="-c statement_timeout=2000",
                    )
                self.poll(conn, list(ROUTABLE))
            except psycopg.Error:
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def poll(self, conn: psycopg.Connection[Any], routable: list[str]) -> None:
        pending = self.run_.ledger.unrouted()
        if pending:
            rows = conn.execute(
                "SELECT receipt_index FROM cases WHERE receipt_index = ANY(%s) AND NOT routing_state = ANY(%s)",
                (pending, routable),
            ).fetchall()
            self.run_.ledger.mark_routed([bytes(row[0]) for row in rows], time.monotonic())
        row = conn.execute("SELECT count(*) FROM cases WHERE routing_state = ANY(%s)", (routable,)).fetchone()
        self.waiting_cases = row[0] if row else -1
        self.answered_at = time.monotonic()


class Monitor(threading.Thread):
    """Samples, four times a second, whether each part of the system is whole."""

    def __init__(self, run_: Run, watcher: Watcher) -> None:
        super().__init__(name="monitor", daemon=True)
        self.run_, self.watcher, self.stop = run_, watcher, threading.Event()
        self.samples: list[tuple[float, dict[str, bool], bool]] = []  # when, parts, scheduler held
        self.worker_pids: dict[str, int] = {}

    def parts(self) -> dict[str, bool]:
        c, now = self.run_.cluster, time.monotonic()
        return {
            "processes": c.supervisor.running(),
            "load balancer": haproxy_servers_up(c.workdir / "haproxy.sock"),
            "database": now - self.watcher.answered_at < 1.0,
            "workers": workers_whole(c, self.worker_pids),
            "reporters": self.run_.ledger.waiting() == 0,
            "routing": self.run_.ledger.oldest_unrouted(now) <= self.run_.slack,
        }

    def run(self) -> None:
        while not self.stop.wait(0.25):
            parts = self.parts()
            self.samples.append((time.monotonic(), parts, scheduler_holder(self.run_.cluster) is not None))

    def healed(self, since: float, part: Callable[[dict[str, bool], bool], bool], until: float) -> float | None:
        """Seconds from ``since`` until ``part`` was whole again after it was first seen
        broken before ``until`` (0 if it was not); None while it is still broken."""
        after = [(t, part(parts, sched)) for t, parts, sched in list(self.samples) if t >= since]
        broken = next((i for i, (t, ok) in enumerate(after) if not ok and t < until), None)
        if broken is None:
            return 0.0 if after else None
        return next((t - since for t, ok in after[broken:] if ok), None)

    def drain(self, since: float) -> float | None:
        return self.healed(since, lambda parts, _: all(parts.values()), float("inf"))

    def scheduler(self, since: float, until: float) -> float | str | None:
        """Seconds until a living clock held the scheduler lock again (deadline checks);
        "out" if it was not held when the fault came."""
        before = [sched for t, _, sched in list(self.samples) if t < since]
        if before and not before[-1]:
            return "out"
        return self.healed(since, lambda _, sched: sched, until)

    def last_to_heal(self, since: float, until: float) -> str:
        """The part of the system that was broken last between ``since`` and ``until``."""
        last: dict[str, float] = {}
        for t, parts, _ in list(self.samples):
            if since <= t <= until:
                last.update({name: t for name, ok in parts.items() if not ok})
        return max(last, key=last.__getitem__) if last else ""


# ------------------------------------------------------------------------ the faults


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Cluster], str]  # returns what it did


def kill_web_host(c: Cluster) -> str:
    """Every process of web1, while it is answering a request if one comes within 5 s."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        busy = int(haproxy_servers(c.workdir / "haproxy.sock").get("web1", {}).get("scur") or 0)
        if busy:
            break
        time.sleep(0.005)
    c.supervisor.kill_host("web1")
    return f"killed every process of web1, {busy} request(s) in hand"


def kill_worker_host(c: Cluster) -> str:
    """The worst worker host to lose: the one whose clock holds the scheduler lock. The
    same one again in later rounds, so the other lives through the run (memory)."""
    holder = scheduler_holder(c)
    c.worker_victim = c.worker_victim or (holder if holder in WORKER_HOSTS else "work1")
    c.supervisor.kill_host(c.worker_victim)
    return f"killed every process of {c.worker_victim}"


def restart_redis(c: Cluster) -> str:
    c.supervisor.kill_host("redis")  # it comes back from the supervisor, empty
    return "killed redis-server"


def restart_postgres(c: Cluster) -> str:
    c.postgres.restart()
    return "pg_ctl restart -m fast done"


def faults(rounds: int) -> list[Fault]:
    """Each fault once per round; the same web host each time, so the other lives through."""
    once = [
        Fault("kill web host", kill_web_host),
        Fault("kill worker host", kill_worker_host),
        Fault("restart Redis (empty)", restart_redis),
        Fault("restart PostgreSQL (fast)", restart_postgres),
    ]
    return once * rounds


@dataclass
class Phase:
    """One stretch of load: the baseline, or the reports filed around one fault."""

    name: str
    reports: range
    fault_at: float | None = None
    drain_s: float | None = None
    scheduler_s: float | str | None = None
    last_to_heal: str = ""
    ended_at: float = float("inf")


def wait_drained(run_: Run, monitor: Monitor, since: float, timeout: float) -> float | None:
    """Block until the system is whole again after ``since`` (None after ``timeout``)."""
    while time.monotonic() - since < timeout and not run_.stopping.is_set():
        drain = monitor.drain(since)
        # A fault takes a moment to show: "never broken" counts only after 3 s.
        if drain is not None and (drain > 0 or time.monotonic() - since > 3):
            return drain
        time.sleep(0.25)
    return None


def run_phase(
    run_: Run,
    monitor: Monitor,
    pool: ThreadPoolExecutor,
    phase: Phase,
    fault: Fault | None,
    rate: float,
    timeout: float,
) -> None:
    """Reporters arrive at ``rate`` for the phase's reports; a quarter of the way in, the
    fault; then wait until the system is whole again and the reports are all released."""
    start = time.monotonic()
    releaser = threading.Thread(target=release, args=(run_, pool, phase.name, phase.reports, rate), daemon=True)
    releaser.start()
    if fault is not None:
        run_.stopping.wait(len(phase.reports) / 4 / rate)
        phase.fault_at = time.monotonic()
        done = fault.inject(run_.cluster)
        print(f"  {phase.fault_at - start:5.1f} s: {fault.name}: {done}", flush=True)
    releaser.join()
    since = phase.fault_at or start
    phase.drain_s = wait_drained(run_, monitor, since, timeout)
    phase.last_to_heal = monitor.last_to_heal(since, since + (phase.drain_s or timeout))
    phase.ended_at = time.monotonic()
    print(
        f"  {phase.name}: {len(phase.reports)} reports; whole again after "
        f"{'—' if phase.drain_s is None else f'{phase.drain_s:.1f} s'}",
        flush=True,
    )


def wait_all_routed(run_: Run, watcher: Watcher, pool: ThreadPoolExecutor, timeout: float) -> bool:
    """After the last phase: every reporter done, and no case left waiting for routing."""
    pool.shutdown(wait=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not run_.stopping.is_set():
        if watcher.waiting_cases == 0 and not run_.ledger.unrouted():
            return True
        time.sleep(0.5)
    return False


def wait_scheduler(run_: Run, timeout: float) -> None:
    """Until a living clock holds the scheduler lock again, or ``timeout``."""
    deadline = time.monotonic() + timeout
    while scheduler_holder(run_.cluster) is None and time.monotonic() < deadline and not run_.stopping.is_set():
        time.sleep(0.5)
    time.sleep(0.5)  # for the monitor to see it too


# ----------------------------------------------------------------------- the memory


@dataclass(frozen=True)
class Proc:
    kind: str
    rss_kb: int


def kind_of(host: str, pid: int) -> str:
    """What a process of a host is, from its command line and its parent's."""
    if host in ("lb", "redis", "db"):
        return {"lb": "haproxy", "redis": "redis-server", "db": "postgres"}[host]
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    if host in WEB_HOSTS:
        ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        parent = Path(f"/proc/{ppid}/cmdline").read_bytes()
        return "gunicorn worker" if b"gunicorn" in parent else "gunicorn master"
    return "clock" if "workers.clock" in command else "rq worker"


def memory(net: Network) -> dict[tuple[int, str], Proc]:
    """Every process of every host by (pid, start time): its kind and RSS (/proc)."""
    found = {}
    for host in HOSTS:
        for pid in netns_pids(net.ns(host)):
            try:
                started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
                status = Path(f"/proc/{pid}/status").read_text()
                rss = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
                found[(pid, started)] = Proc(kind_of(host, pid), rss)
            except (OSError, AttributeError, IndexError):
                continue  # gone meanwhile, or a kernel thread
    return found


KINDS = ("gunicorn master", "gunicorn worker", "rq worker", "clock", "postgres", "redis-server", "haproxy")


def memory_figures(start: dict[tuple[int, str], Proc], end: dict[tuple[int, str], Proc]) -> dict[str, dict[str, Any]]:
    """Per kind: processes and mean RSS (MB) at start and end, and the largest growth of a
    process that lived through the run."""
    figures = {}
    for kind in KINDS:
        before = [p.rss_kb for p in start.values() if p.kind == kind]
        after = [p.rss_kb for p in end.values() if p.kind == kind]
        lived = [end[k].rss_kb / start[k].rss_kb - 1 for k in start.keys() & end.keys() if start[k].kind == kind]
        figures[kind] = {
            "start_n": len(before),
            "start_mb": round(sum(before) / len(before) / 1024, 1) if before else 0.0,
            "end_n": len(after),
            "end_mb": round(sum(after) / len(after) / 1024, 1) if after else 0.0,
            "lived_through": len(lived),
            "max_growth": round(max(lived), 3) if lived else None,
        }
    figures["all"] = {
        "start_mb": round(sum(p.rss_kb for p in start.values()) / 1024, 1),
        "end_mb": round(sum(p.rss_kb for p in end.values()) / 1024, 1),
    }
    return figures


# ---------------------------------------------------------------------- the counting

CASES_SQL = """
SELECT c.receipt_index, c.routing_state, c.routing_round, c.signals::text LIKE '%"resent"%',
       (SELECT count(*) FROM routing_rounds r WHERE r.case_id = c.id),
       (SELECT count(DISTINCT n.staff_id) FROM notifications n WHERE n.case_id = c.id AND n.kind = 'assigned'),
       c.id
FROM cases c
"""


def count_outcomes(run_: Run) -> dict[str, Any]:
    """Receipts against cases, and each case's routing, from the database (no plaintext)."""
    from app.triage.models import ROUTABLE

    with psycopg.connect(run_.cluster.database_url, connect_timeout=5) as conn:
        rows = conn.execute(CASES_SQL).fetchall()
    given, reports = run_.ledger.given, run_.ledger.reports
    cases_per_receipt = Counter(bytes(row[0]) for row in rows)
    unrouted = [row for row in rows if row[1] in ROUTABLE or row[4] == 0]
    once = [row for row in rows if row[1] not in ROUTABLE and row[2] == 1 and row[4] == 1 and row[5] <= 1]
    figures = {
        "reports": len(reports),
        "receipts": len(given),
        "cases": len(rows),
        "routed_once": len(once),
        "routed_more_than_once": sum(1 for row in rows if row[4] > 1 or row[5] > 1),
        "receipt_without_case": sum(1 for index in given if cases_per_receipt[index] == 0),
        "case_never_routed": len(unrouted),
        "receipt_with_two_cases": sum(1 for index in given if cases_per_receipt[index] > 1),
        "case_without_receipt": sum(1 for row in rows if bytes(row[0]) not in given),
        "report_with_two_receipts": sum(max(0, len(r.receipts) - 1) for r in reports),
        "marked_resent": sum(1 for row in rows if row[3]),
        "refiled_after_already_received": sum(r.refiled for r in reports),
        "gave_up": sum(r.gave_up for r in reports),
    }
    # Their ids (as the app's log names them), to find what happened to them there.
    figures["cases_without_receipt"] = [row[6] for row in rows if bytes(row[0]) not in given][:10]
    figures["lost"] = figures["receipt_without_case"] + figures["case_never_routed"]
    figures["duplicated"] = (
        figures["receipt_with_two_cases"] + figures["case_without_receipt"] + figures["report_with_two_receipts"]
    )
    return figures


def failed_jobs(c: Cluster) -> int:
    """Jobs in the failed registries (since Redis last started)."""
    try:
        with c.redis() as redis:
            return sum(int(redis.zcard(f"rq:failed:{QUEUE_PREFIX}-{q}")) for q in ("urgent", "default"))
    except RedisError:
        return -1


LOG_MARK_RE = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|\[(WARNING|ERROR|CRITICAL)\]|exception raised while")
LOG_START_RE = re.compile(r"^(\d{4}-\d\d-\d\d |\d\d:\d\d:\d\d |\[)")
VARYING_RE = re.compile(r"^\S+ \S+ |^\[[^]]*\] |[0-9a-f]{8}-[0-9a-f-]{27}|\b[0-9a-f]{32}\b|\d+")


def log_findings(logs: Path) -> list[tuple[int, str, str]]:
    """Warnings, errors and failed jobs in every process's log, alike lines counted
    together: (count, services, the first such line and the exception it ends with)."""
    seen: dict[str, tuple[int, set[str], str]] = {}
    for path in sorted(logs.glob("*")):
        service, lines = path.name.split(".")[0], path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if LOG_MARK_RE.search(line):
                text = " | ".join(filter(None, (line.strip(), _exception_after(lines, i))))
                key = VARYING_RE.sub("#", text)[:200]
                count, services, first = seen.get(key, (0, set(), text))
                seen[key] = (count + 1, services | {service}, first)
    found = [(count, ",".join(sorted(services)), first[:300]) for count, services, first in seen.values()]
    return sorted(found, key=lambda item: -item[0])


def _exception_after(lines: list[str], i: int) -> str:
    """The exception a traceback under line ``i`` ends with, if one follows it."""
    end = next((j for j in range(i + 1, len(lines)) if LOG_START_RE.match(lines[j])), len(lines))
    named = [text.strip() for text in lines[i + 1 : end] if harness.EXCEPTION_RE.match(text.strip())]
    return named[-1] if named else ""


def unexpected_exits(c: Cluster) -> list[str]:
    """Processes that exited though the bench had not killed them."""
    return [
        f"{s.name} exited with status {status}"
        for s in c.supervisor.services
        for _, status, killed in s.exits
        if not killed
    ]


# ------------------------------------------------------------------------ the output

PHASE_COLUMNS = (
    harness.Column("phase", 28),
    harness.Column("reports", 8),
    harness.Column("503", 6),
    harness.Column("5xx", 6),
    harness.Column("conn", 6),
    harness.Column("409", 6),
    harness.Column("slowest s", 10, ".1f"),
    harness.Column("route p50 s", 12, ".2f"),
    harness.Column("p95 s", 7, ".2f"),
    harness.Column("max s", 7, ".2f"),
    harness.Column("drain s", 9, ".1f"),
    harness.Column("sched s", 9, ".1f"),
    harness.Column("  last to heal", 16),
)
MEMORY_COLUMNS = (
    harness.Column("process", 18),
    harness.Column("start n", 8),
    harness.Column("MB each", 9, ".1f"),
    harness.Column("end n", 7),
    harness.Column("MB each", 9, ".1f"),
    harness.Column("lived through", 14),
    harness.Column("max growth", 11),
)


def phase_figures(run_: Run, monitor: Monitor, phase: Phase) -> dict[str, Any]:
    """What reporters saw and how fast their cases were routed, for one phase."""
    seen: Counter[str] = Counter()
    slowest = 0.0
    for report in run_.ledger.reports:
        if report.phase == phase.name:
            seen.update(report.seen)
            slowest = max(slowest, report.slowest)
    groups: Counter[str] = Counter()
    for what, count in seen.items():
        groups[seen_group(what)] += count
    times = sorted(run_.ledger.route_times(phase.name))
    pick = lambda p: round(harness.percentile(times, p) / 1000, 3) if times else None  # noqa: E731
    if phase.fault_at is not None:
        phase.scheduler_s = monitor.scheduler(phase.fault_at, phase.ended_at)
    return {
        "phase": phase.name,
        "fault": phase.fault_at is not None,
        "reports": len(phase.reports),
        "seen": dict(groups),
        "seen_detail": dict(seen),
        "slowest_page_s": round(slowest, 2),
        "route_p50_s": pick(50),
        "route_p95_s": pick(95),
        "route_max_s": round(times[-1], 3) if times else None,
        "drain_s": None if phase.drain_s is None else round(phase.drain_s, 1),
        "scheduler_s": round(phase.scheduler_s, 1) if isinstance(phase.scheduler_s, float) else phase.scheduler_s,
        "last_to_heal": phase.last_to_heal,
    }


def print_phases(rows: list[dict[str, Any]], slack: float) -> None:
    """The phases' table, and what its columns mean."""
    harness.print_table(
        PHASE_COLUMNS,
        [
            (
                r["phase"],
                r["reports"],
                r["seen"].get("503", 0),
                r["seen"].get("5xx", 0),
                r["seen"].get("conn", 0),
                r["seen"].get("409", 0),
                r["slowest_page_s"],
                r["route_p50_s"],
                r["route_p95_s"],
                r["route_max_s"],
                r["drain_s"] if r["drain_s"] is not None else "never",
                "never" if r["scheduler_s"] is None and r["fault"] else r["scheduler_s"],
                f"  {r['last_to_heal']}",
            )
            for r in rows
        ],
    )
    print(
        textwrap.fill(
            "503, 5xx, conn, 409: answers reporters got instead of a receipt; slowest: the longest wait for a page. "
            "route: from receipt to case routed. drain: from the fault until every process runs, HAProxy sees both "
            "web hosts up, every worker keeps its liveness key (no dead one's is left), no reporter waits to send "
            f"again and no receipt waits more than {slack:.1f} s for routing. sched: until a living clock holds the "
            'scheduler lock again (it moves due deadline checks); "out": it was not held when the fault came.',
            120,
        )
    )


def print_outcomes(o: dict[str, Any]) -> None:
    print(
        f"reports typed {o['reports']}, receipts shown {o['receipts']}, cases stored {o['cases']}, "
        f"routed exactly once {o['routed_once']}, routed more than once {o['routed_more_than_once']}"
    )
    print(
        f"lost {o['lost']}: receipts with no case {o['receipt_without_case']}, cases never routed "
        f"{o['case_never_routed']}"
    )
    print(
        f"duplicated {o['duplicated']}: cases no receipt opens {o['case_without_receipt']} (after "
        f'"already received" {o["refiled_after_already_received"]} reporters filed anew; danger reports '
        f"filed again, marked resent: {o['marked_resent']}), receipts with two cases {o['receipt_with_two_cases']}, "
        f"reports with two receipts {o['report_with_two_receipts']}; reporters who gave up {o['gave_up']}"
    )
    if o["cases_without_receipt"]:
        print(f"  cases no receipt opens: {', '.join(o['cases_without_receipt'])}")


def print_memory(m: dict[str, dict[str, Any]]) -> None:
    harness.print_table(
        MEMORY_COLUMNS,
        [
            (
                kind,
                f["start_n"],
                f["start_mb"],
                f["end_n"],
                f["end_mb"],
                f["lived_through"],
                "—" if f["max_growth"] is None else f"{f['max_growth']:+.1%}",
            )
            for kind, f in m.items()
            if kind != "all"
        ],
    )
    print(f"all processes: {m['all']['start_mb']:.0f} MB after the baseline, {m['all']['end_mb']:.0f} MB at the end")


def verdict(figures: dict[str, Any], rows: list[dict[str, Any]]) -> int:
    """0 all well; 1 a report lost, duplicated, routed twice or given up, a fault that never
    drained, or the bench's own errors; 2 a target missed (drain, memory)."""
    o = figures["outcomes"]
    broken = (
        o["lost"]
        or o["duplicated"]
        or o["routed_once"] != o["cases"]
        or o["gave_up"]
        or figures["bench_errors"]
        or not figures["all_routed"]
        or any(r["drain_s"] is None for r in rows)
    )
    if broken:
        return 1
    growth = [f["max_growth"] for f in figures["memory"].values() if f.get("max_growth") is not None]
    slow = [r["drain_s"] for r in rows if r["drain_s"] > TARGET_DRAIN_S]
    return 2 if slow or any(g > TARGET_GROWTH for g in growth) else 0


# ------------------------------------------------------------------------------ main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 reports, each fault once (CI)")
    parser.add_argument("--reports", type=int, help="reports filed through the faults (2,000; --quick 200)")
    parser.add_argument("--rate", type=float, help="reporters arriving per second (8; --quick 4)")
    parser.add_argument("--rounds", type=int, help="times each fault comes (2; --quick 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-logs", type=Path, metavar="DIR", help="copy every process's log here at the end")
    args = parser.parse_args()
    args.reports = args.reports or (200 if args.quick else 2000)
    args.rate = args.rate or (4.0 if args.quick else 8.0)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.baseline = max(20, args.reports // 4)
    args.timeout = 120.0 if args.quick else 180.0  # to drain after a fault
    if os.geteuid() != 0:
        parser.error("run as root: it makes network namespaces")
    if not (20 <= args.reports <= 100_000 and 0.2 <= args.rate <= 200 and 1 <= args.rounds <= 10):
        parser.error("reports 20-100,000, rate 0.2-200 per second, rounds 1-10")
    return args


def interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    began = time.monotonic()
    signal.signal(signal.SIGTERM, interrupted)  # cleaned up as after Ctrl-C
    print(
        f"soak: {args.baseline} reports without faults, then {args.reports} through {4 * args.rounds} faults; "
        f"{args.rate:g} reporters a second; {os.cpu_count()} CPUs",
        flush=True,
    )
    with cluster() as c:
        print(f"  hosts up after {time.monotonic() - began:.0f} s ({c.net.subnet}.0/24, {c.workdir})", flush=True)
        run_ = Run(c, Ledger(c.ring), args.seed)
        try:
            figures, rows = soak(run_, args)
        finally:
            run_.stopping.set()
            if args.keep_logs:
                shutil.copytree(c.logs, args.keep_logs, dirs_exist_ok=True)
    figures["elapsed_s"] = round(time.monotonic() - began, 1)
    status = verdict(figures, rows)
    figures["status"] = status
    print(json.dumps(figures, separators=(",", ":")), flush=True)
    return status


def soak(run_: Run, args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The baseline, the faults, the drain at the end; then every figure, printed."""
    c = run_.cluster
    watcher = Watcher(run_)
    monitor = Monitor(run_, watcher)
    watcher.start()
    monitor.start()
    pool = ThreadPoolExecutor(max_workers=CLIENTS, thread_name_prefix="reporter")
    try:
        phases = [Phase("baseline (no fault)", range(1, args.baseline + 1))]
        run_phase(run_, monitor, pool, phases[0], None, args.rate, args.timeout)
        base = sorted(run_.ledger.route_times(phases[0].name))
        run_.slack = max(2.0, 3 * harness.percentile(base, 95) / 1000) if base else 2.0
        mem_start = memory(c.net)
        plan = faults(args.rounds)
        per_fault, first = args.reports // len(plan), args.baseline + 1
        for n, fault in enumerate(plan):
            count = per_fault if n < len(plan) - 1 else args.reports - per_fault * n
            name = fault.name if args.rounds == 1 else f"{fault.name} #{n // 4 + 1}"
            phases.append(Phase(name, range(first, first + count)))
            first += count
            run_phase(run_, monitor, pool, phases[-1], fault, args.rate, args.timeout)
        all_routed = wait_all_routed(run_, watcher, pool, args.timeout)
        mem_end = memory(c.net)
        wait_scheduler(run_, args.timeout)  # to know how long deadline checks stood still
    except BaseException:
        run_.stopping.set()  # the reporters stop at their next step
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        watcher.stop.set()
        monitor.stop.set()
    return report(run_, monitor, phases, all_routed, mem_start, mem_end)


def report(
    run_: Run,
    monitor: Monitor,
    phases: list[Phase],
    all_routed: bool,
    mem_start: dict[tuple[int, str], Proc],
    mem_end: dict[tuple[int, str], Proc],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Print the tables and findings; returns the figures for the JSON line, and per phase."""
    c = run_.cluster
    rows = [phase_figures(run_, monitor, phase) for phase in phases]
    outcomes = count_outcomes(run_)
    mem = memory_figures(mem_start, mem_end)
    print()
    print_phases(rows, run_.slack)
    print()
    print_outcomes(outcomes)
    drains = [r["drain_s"] for r in rows[1:] if r["drain_s"] is not None]
    print(
        f"worst time to drain {max(drains, default=0):.1f} s (target ≤ {TARGET_DRAIN_S:g} s); "
        f"everything routed at the end: {all_routed}; failed jobs {failed_jobs(c)}"
    )
    sched = [r["scheduler_s"] for r in rows[1:] if r["scheduler_s"] != "out"]
    sched_met = None not in sched and max(sched, default=0) <= TARGET_DRAIN_S
    print(
        "scheduler lock held again by a living clock after at worst "
        + ("never" if None in sched else f"{max(sched, default=0):.1f} s")
        + f" (deadline checks; within {TARGET_DRAIN_S:g} s: {'met' if sched_met else 'MISSED'}); "
        f"workers RQ knows at the end: {rq_registered_workers(c)} of {len(WORKER_HOSTS) * WORKERS_PER_HOST}"
    )
    print()
    print_memory(mem)
    findings = log_findings(c.logs)
    exits = unexpected_exits(c)
    print(f"\nprocesses that exited unkilled: {len(exits)}" + "".join(f"\n  {e}" for e in exits[:10]))
    print(f"log warnings and errors, alike lines together ({sum(n for n, _, _ in findings)} lines):")
    for count, services, line in findings[:15]:
        print(f"  {count:5d}  [{services}] {line}")
    for error in run_.errors[:5]:
        print(f"  bench error: {error}", file=sys.stderr)
    figures = {
        "bench": "soak",
        "cpus": os.cpu_count(),
        "outcomes": outcomes,
        "all_routed": all_routed,
        "worst_drain_s": max(drains, default=None),
        "phases": rows,
        "memory": mem,
        "restarts": {s.name: s.starts - 1 for s in c.supervisor.services},
        "unexpected_exits": len(exits),
        "log_lines": sum(n for n, _, _ in findings),
        "failed_jobs": failed_jobs(c),
        "bench_errors": len(run_.errors),
        "worst_scheduler_s": None if None in sched else max(sched, default=None),
        "rq_registered_workers": rq_registered_workers(c),
    }
    return figures, rows


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; everything the bench made is removed", file=sys.stderr)
        sys.exit(130)
