"""Soak test: Confide as production runs it, on seven hosts (addresses on the loopback), through faults: every
process of a web host killed, then of a worker host, Redis restarted empty, PostgreSQL restarted. `.venv/bin/python
bench/soak.py [--quick]`. Exit 1: a report lost, duplicated, routed other than once or given up, a fault never healed,
the bench's own errors; 2: only a target missed; else 0."""

import argparse
import contextlib
import csv
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException
from http.cookiejar import CookieJar
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, build_opener, urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from redis import Redis
from redis.exceptions import RedisError

from app.crypto import create_keyring
from app.intake.receipts import ReceiptCode
from app.keystore import current_keyring
from app.triage.models import ROUTABLE
from bench import harness

# Each host an address on the loopback, each service on the same port of its host (one the kernel finds free).
HOSTS = {host: f"127.0.0.{10 + n}" for n, host in enumerate(("lb", "web1", "web2", "work1", "work2", "db", "redis"))}
PORT = harness.free_port()
PG_PASSWORD = os.urandom(16).hex()  # the cluster listens on the loopback, where any local user could connect
AT, DSN = (
    {host: f"{ip}:{PORT}" for host, ip in HOSTS.items()},
    f"postgresql://postgres:{PG_PASSWORD}@127.0.0.15:{PORT}/postgres",
)
WEB, WORKER, UNITS = ("web1", "web2"), ("work1", "work2"), ("worker1", "worker2", "clock")  # UNITS: of a worker host
KINDS = ("gunicorn master", "gunicorn worker", "rq worker", "clock", "postgres", "redis-server", "haproxy")
PREFIX, RESPONDERS, CLIENTS = "confide-soak", 12, 32  # CLIENTS: reporters filing at the same moment, at most
RESTART_S, GIVE_UP_S = 2, 240  # RESTART_S: systemd's RestartSec in deploy/templates/process.service
TARGET_DRAIN_S, TARGET_GROWTH = 60.0, 0.10  # DESIGN.md: any fault heals within a minute
SEEN = ("503", "5xx", "conn", "409")  # what reporters saw instead of a receipt, as the table counts it
ANSWERS = "perpetrator=client,employer,coworker setting=clinic,franchise,outcall,hotel when=72h,week,month,year "
ANSWERS += "county=hartford,new_haven,fairfield,outside injured=no,no,unsure ongoing=yes,no,unsure language=en"
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parts[-2]), default=None)
HAPROXY, PAGE_KB = shutil.which("haproxy") or "/usr/sbin/haproxy", os.sysconf("SC_PAGE_SIZE") // 1024
CONFIG = 'proxy_count = 1\naudit_checkpoints = "{workdir}/audit-checkpoints.jsonl"\n' + harness.UNLIMITED
HAPROXY_CFG = (  # /readyz gives up on each of the database and Redis after 2 s: allow it 5
    "defaults\n mode http\n option forwardfor\n retries 3\n option redispatch\n timeout connect 2s\n timeout client 60s"
    "\n timeout server 40s\nfrontend reporters\n bind {lb}\n stats uri /haproxy\n default_backend web\nbackend web\n"
    " option httpchk GET /readyz\n timeout check 5s\n default-server inter 1s fall 2 rise 2\n server web1 {web1} check"
    "\n server web2 {web2} check\n"
)
WAITS = f"routing_state IN ({', '.join(repr(state) for state in ROUTABLE)})"  # the case waits to be routed
STATES_SQL = f"SELECT receipt_index, {WAITS} FROM cases WHERE {WAITS} OR receipt_index = ANY(%s)"
CASES_SQL = f"""SELECT receipt_index, NOT {WAITS}, routing_round, signals::text LIKE '%"resent"%',
  (SELECT count(*) FROM routing_rounds r WHERE r.case_id = c.id), (SELECT count(DISTINCT n.staff_id) FROM notifications
  n WHERE n.case_id = c.id AND n.kind = 'assigned') FROM cases c"""


class Soak:
    """The hosts and what the run saw, shared by the units, the reporters, the watcher and the faults."""

    def __init__(self, quick: bool) -> None:
        self.reports, self.rate, self.rounds, self.timeout = (200, 4.0, 1, 120.0) if quick else (2000, 8.0, 2, 180.0)
        self.workdir = Path(tempfile.mkdtemp(prefix="confide-soak-"))
        self.lock, self.ending, self.victim = threading.Lock(), threading.Event(), ""  # ending: every thread stops
        self.given, self.routed = {}, {}  # by receipt index: (phase, when shown); when its case was first seen routed
        self.seen, self.counts = {}, Counter()  # by phase: what reporters saw instead of a receipt; gave up, filed anew
        self.units, self.exits, self.errors = [], [], []  # exits: of processes unkilled
        self.waiting, self.worker_pids = set(), {}  # reporters shown an error; by RQ name (RQ forgets it with Redis)
        self.waiting_cases, self.slack = -1, 2.0  # slack: a receipt whose case is routed within it is no backlog
        self.broken, self.healed = 0.0, 0.0  # when the watcher last found it broken; its first sample whole after that

    def pg(self, program: str, *args: str, check: bool = True) -> str:  # as postgres if we are root
        if program == "pg_ctl":
            args = ("-D", f"{self.workdir}/pg/data", "-l", f"{self.workdir}/pg/log", "-w", "-t", "60", *args)
        user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*user, f"{PG_BIN}/{program}", *args], cwd=self.workdir / "pg", capture_output=True)
        if check and done.returncode:
            raise SystemExit(f"{program} {' '.join(args)} failed:\n{done.stdout.decode()}{done.stderr.decode()}")
        return done.stdout.decode()

    def supervise(self, name: str, kind: str, host: str, argv: list[str], env: dict[str, str]) -> None:
        """A process of ``host`` kept as systemd keeps a unit: started again RESTART_S after it exits."""
        unit, env = SimpleNamespace(kind=kind, host=host, process=None, killed=False), env | {"CONFIDE_BIND": AT[host]}
        self.units.append(unit)

        def keep() -> None:
            while True:
                with self.lock, open(f"{self.workdir}/logs/{name}.out", "ab") as out:
                    if self.ending.is_set():  # under the lock, so that the cleaning sees every process
                        return
                    unit.process = subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=True)
                status = unit.process.wait()
                if not unit.killed and not self.ending.is_set():
                    self.exits.append(f"{name} exited with status {status}")
                unit.killed = False  # by the bench: its next exit is expected
                if self.ending.wait(RESTART_S):
                    return

        threading.Thread(target=keep, name=name, daemon=True).start()

    def strike(self, name: str, fault: Any) -> None:
        try:  # in a timer thread: a fault that failed must fail the run, not read as healed at once
            if not self.ending.is_set():
                self.since = time.monotonic()
                print(f"  {name}: {fault(self)}", flush=True)
        except BaseException as error:  # noqa: BLE001 - SystemExit from pg_ctl included
            self.errors.append(f"{name}: {error!r}")

    def kill(self, *hosts: str) -> str:  # as a power cut would: gunicorn's workers are in their master's group
        for unit in [x for x in self.units if x.host in hosts and x.process]:
            unit.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(unit.process.pid, signal.SIGKILL)
        return f"killed every process of {', '.join(hosts)}"

    def kill_web_host(self) -> str:  # web1 each time (web2 lives through), while it answers a request if one comes
        deadline = time.monotonic() + 5
        while not (busy := int(self.servers().get("web1", {}).get("scur") or 0)) and time.monotonic() < deadline:
            time.sleep(0.005)
        return f"{self.kill('web1')}, {busy} request(s) in hand"

    def kill_worker_host(self) -> str:  # the one whose clock holds RQ's scheduler lock; the same again, so the other
        with contextlib.suppress(RedisError):  # host's processes live through for the memory figures
            holder = (self.redis.get(f"rq:scheduler-lock:{PREFIX}-urgent") or b"-").decode()
            pid = int(self.redis.hget(f"rq:scheduler:{holder}", "pid") or 0)
            self.victim = self.victim or next((x.host for x in self.units if x.process.pid == pid), "")
        return self.kill(self.victim or "work1")

    def servers(self) -> dict[str, dict[str, str]]:  # HAProxy's figures for each web host
        with contextlib.suppress(OSError), urlopen(f"http://{AT['lb']}/haproxy;csv", timeout=1) as stats:  # noqa: S310
            rows = csv.DictReader(stats.read().decode().lstrip("# ").splitlines())
            return {row["svname"]: row for row in rows if row["pxname"] == "web"}
        return {}

    def whole(self) -> bool:  # all runs, HAProxy sees both web hosts, each worker keeps its liveness key, no dead one's
        try:
            names = [key.decode().rsplit(":", 1)[1] for key in self.redis.scan_iter(f"{PREFIX}:alive:*")]
            pids = {n: self.worker_pids.get(n) or self.redis.hget(f"rq:worker:{n}", "pid") for n in names}
        except RedisError:
            return False
        self.worker_pids |= {name: int(pid) for name, pid in pids.items() if pid}
        running = {x.process.pid for x in self.units if x.process and x.process.poll() is None}
        workers = {x.process.pid for x in self.units if x.kind == "rq worker" and x.process}
        up = all(self.servers().get(host, {}).get("status") == "UP" for host in WEB)
        return up and len(running) == len(self.units) and {self.worker_pids.get(n) for n in names} == workers

    def start(self) -> None:  # PostgreSQL, Redis, the Procfile's processes on each host and HAProxy, until all answer
        if not (PG_BIN and Path(HAPROXY).exists()):  # .ci/run installs them
            raise SystemExit("needs Debian's postgresql and haproxy (apt-get install postgresql haproxy)")
        self.workdir.chmod(0o711)
        (self.workdir / "logs").mkdir()
        (self.workdir / "pg").mkdir(mode=0o700)
        (password := self.workdir / "pg/password").write_text(PG_PASSWORD)
        for path in (password.parent, password) if os.geteuid() == 0 else ():  # its cluster, run as postgres
            shutil.chown(path, "postgres", "postgres")
        auth = ["-A", "scram-sha-256", f"--pwfile={password}"]  # a password even on the loopback
        self.pg("initdb", "-D", f"{self.workdir}/pg/data", "-U", "postgres", *auth, "-E", "UTF8", "--no-sync")
        self.pg("pg_ctl", "start", "-o", f"-h {HOSTS['db']} -p {PORT} -k '' -N 200")
        password = os.urandom(16).hex()  # as production should have (README, "Redis")
        self.redis = Redis.from_url(f"redis://:{password}@{AT['redis']}/0", socket_connect_timeout=1, socket_timeout=2)
        config, database = CONFIG.format(workdir=self.workdir), DSN.replace("postgresql", "postgresql+psycopg", 1)
        env = harness.app_environment(self.workdir, database, f"redis://:{password}@{AT['redis']}/0", PREFIX, config)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
        env["GUNICORN_CMD_ARGS"] = "--no-control-socket"  # as harness.gunicorn: not one socket path for all masters
        redis = f"redis-server --bind {HOSTS['redis']} --port {PORT} --requirepass {password} --save"
        self.supervise("redis", "redis-server", "redis", [*redis.split(), "", "--dir", str(self.workdir)], env)
        create_keyring(self.workdir / "keys")
        harness.migrate(env)
        with harness.app_in_process(env):
            harness.seed_responders(RESPONDERS)
            self.ring = current_keyring()  # for the receipts' blind indexes
        procfile = dict(re.findall(r"^(\w+):\s*(.+)$", (harness.ROOT / "Procfile").read_text(), re.M))
        # The Procfile's processes as systemd runs them (`sh -c 'exec …'`), each with a log of its own.
        for host, name, unit in [(h, h, "web") for h in WEB] + [(h, f"{h}-{u}", u) for h in WORKER for u in UNITS]:
            kind = {"web": "gunicorn master", "clock": "clock"}.get(unit, "rq worker")
            argv = ["sh", "-c", f"exec {procfile[unit.rstrip('12')]}"]
            self.supervise(name, kind, host, argv, env | {"CONFIDE_LOG_FILE": f"{self.workdir}/logs/{name}.log"})
        (self.workdir / "haproxy.cfg").write_text(HAPROXY_CFG.format(**AT))
        self.supervise("haproxy", "haproxy", "lb", [HAPROXY, "-db", "-f", f"{self.workdir}/haproxy.cfg"], env)
        for _ in range(240):
            if self.whole():
                return
            time.sleep(0.5)
        logs = [f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted((self.workdir / "logs").glob("*"))]
        raise SystemExit("Confide did not come up within 120 s:\n" + "\n".join(logs))

    def stop(self) -> None:
        with self.lock:  # no process starts again
            self.ending.set()
        self.kill(*HOSTS)
        self.pg("pg_ctl", "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)


FAULTS = {"kill web host": Soak.kill_web_host, "kill worker host": Soak.kill_worker_host}  # each says what it did
FAULTS["restart Redis (empty)"] = lambda s: s.kill("redis")  # its unit starts it again, empty
FAULTS["restart PostgreSQL (fast)"] = lambda s: s.pg("pg_ctl", "-m", "fast", "restart").strip().splitlines()[-1]


def file_report(s: Soak, phase: str, number: int) -> None:
    """One reporter until shown a receipt: after an error, 2-6 s later, the same form again (as given back if it was,
    with the same cookies); after 409 "already received", a new report."""
    rng, tokens, give_up = random.Random(number), None, 0.0
    answers = {key: rng.choice(choices.split(",")) for key, choices in (a.split("=") for a in ANSWERS.split())}
    answers |= {"category": harness.category(rng), "narrative": harness.story(rng, "en", rng.randint(200, 800))}
    answers |= {"danger_now": "yes" if rng.random() < 1 / 30 else "no", "identity": "anonymous", "peer_support": "y"}
    if rng.random() < 0.25:  # one in four named
        answers |= {"identity": "named", "name": f"Reporter {number}", "email": f"reporter{number}@example.org"}
        answers |= {"contact_email": "y", "legal_referral": "y"}
    browser = build_opener(HTTPCookieProcessor(CookieJar(harness.SecureOverHttp())))  # her own cookies
    while not s.ending.is_set():
        form = tokens and urlencode(tokens | answers).encode()  # none: GET the form
        try:
            with browser.open(f"http://{AT['lb']}/report", form, timeout=30) as answer:
                seen, page = answer.status, answer.read().decode()
        except HTTPError as error:
            seen, page = error.code, error.read().decode()
        except (OSError, HTTPException):
            seen, page = 0, ""
        if form and seen == 200 and (found := harness.RECEIPT_RE.search(page)):
            with s.lock:
                s.given[ReceiptCode.parse(found[1]).keyed_index(s.ring)] = (phase, time.monotonic())
            return s.waiting.discard(number)
        back = harness.hidden_fields(page)
        if (tokens := None if seen == 409 else back if "submission" in back else tokens) and seen == 200 and not form:
            continue  # the form: she fills it in and sends it
        with s.lock:
            s.seen[phase][{0: "conn", 503: "503", 409: "409"}.get(seen, "5xx" if seen >= 500 else "other")] += 1
            s.waiting.add(number)
        s.counts["refiled_after_already_received"] += seen == 409
        if (give_up := give_up or time.monotonic() + GIVE_UP_S) < time.monotonic():
            s.counts["gave_up"] += 1
            return s.waiting.discard(number)
        s.ending.wait(rng.uniform(2, 6))


def watch(s: Soak) -> None:  # four times a second: which receipts' cases are routed, how many wait, whether all is well
    conn = None
    while not s.ending.wait(0.25):
        try:  # a statement timeout, so that it samples on while the database hangs
            conn = conn or psycopg.connect(DSN, autocommit=True, connect_timeout=2, options="-c statement_timeout=2s")
            with s.lock:
                pending = [index for index in s.given if index not in s.routed]
            rows = conn.execute(STATES_SQL, (pending,)).fetchall()
            with s.lock:
                s.routed |= {bytes(index): time.monotonic() for index, waits in rows if not waits}
            s.waiting_cases, database = sum(waits for _, waits in rows), True
        except psycopg.Error:
            conn, database = conn and conn.close(), False
        with s.lock:
            oldest = max((time.monotonic() - at for i, (_, at) in s.given.items() if i not in s.routed), default=0.0)
        well, now = database and not s.waiting and oldest <= s.slack and s.whole(), time.monotonic()
        s.broken, s.healed = (s.broken, s.healed or now) if well else (now, 0.0)


def memory(s: Soak) -> dict[tuple[int, str], tuple[str, int]]:  # (pid, start time): kind, RSS in kB
    groups = {x.process.pid: x.kind for x in s.units if x.process}
    with contextlib.suppress(OSError):  # the postmaster, whose children each lead a session of their own
        groups[int((s.workdir / "pg/data/postmaster.pid").read_text().split()[0])] = "postgres"
    found = {}
    for pid in [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]:
        with contextlib.suppress(OSError):  # gone meanwhile
            _, parent, group, *stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if kind := groups.get(int(group)) or groups.get(int(parent)):
                kind = "gunicorn worker" if kind == "gunicorn master" and pid != int(group) else kind
                found[(pid, stat[16])] = (kind, int(stat[18]) * PAGE_KB)
    return found


def soak(s: Soak) -> tuple[list[dict[str, Any]], bool, dict, dict]:
    """The baseline, then each fault a quarter into its phase; each phase waits till all is whole again (drain)."""
    threading.Thread(target=watch, args=(s,), name="watcher", daemon=True).start()
    pool, phases, first = ThreadPoolExecutor(max_workers=CLIENTS), [], 0
    plan = [(f"{name} #{r + 1}" if s.rounds > 1 else name, f) for r in range(s.rounds) for name, f in FAULTS.items()]
    for name, fault in [("baseline (no fault)", None), *plan]:
        numbers = range(first, first := first + s.reports // 4 // (s.rounds if fault else 1))
        s.seen[name], s.since = Counter(), time.monotonic()
        if fault:  # a quarter of the way in, while reporters keep coming
            threading.Timer(len(numbers) / 4 / s.rate, s.strike, (name, fault)).start()
        for number in numbers:
            future = pool.submit(file_report, s, name, number)  # with the bench's own errors:
            future.add_done_callback(lambda f: f.exception() and s.errors.append(repr(f.exception())))
            s.ending.wait(1 / s.rate)
        while not (s.healed > s.broken and time.monotonic() > s.since + 3) and time.monotonic() < s.since + s.timeout:
            s.ending.wait(0.25)
        drain = round(max(0.0, s.healed - s.since), 1) if s.healed > s.broken else None
        print(f"  {name}: {len(numbers)} reports; whole again after {'—' if drain is None else f'{drain} s'}")
        phases.append({"phase": name, "reports": len(numbers), "drain_s": drain})
        if fault is None:  # the baseline: what counts as a backlog from now on, and memory to compare with
            base = [t - s.given[i][1] for i, t in s.routed.items()]
            s.slack, mem_start = max(2.0, 3 * harness.percentiles(base)["p95_ms"] / 1000) if base else 2.0, memory(s)
    pool.shutdown(wait=True)  # every reporter done; then no case may be left waiting for routing
    deadline = time.monotonic() + s.timeout
    while not (all_routed := s.waiting_cases == 0 and len(s.routed) == len(s.given)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return phases, all_routed, mem_start, memory(s)


def figures(s: Soak, phases: list[dict[str, Any]], all_routed: bool, start: dict, end: dict) -> dict[str, Any]:
    """Print the tables and findings; return the figures for the JSON line, with the exit status."""
    rows, procs = [], {"start": start, "end": end}
    for phase in phases:
        times = [s.routed[i] - at for i, (p, at) in s.given.items() if p == phase["phase"] and i in s.routed]
        pct = harness.percentiles(times) | {"max_ms": 1000 * max(times, default=float("nan"))}
        seen = s.seen[phase["phase"]]
        phase |= {"seen": dict(seen)} | {f"route_{k}_s": round(pct[f"{k}_ms"] / 1000, 3) for k in ("p50", "p95", "max")}
        cells = [f"{phase[f'route_{k}_s']:.2f}" for k in ("p50", "p95", "max")]
        rows.append([phase["phase"], phase["reports"], *(seen[g] for g in SEEN), *cells, phase["drain_s"]])
    harness.table(["phase", "reports", *SEEN, "route p50 s", "p95 s", "max s", "drain s"], rows)
    print("503, 5xx, conn, 409: what reporters saw instead of a receipt. drain s: from the fault until all is whole")
    print(f"again (Soak.whole, no reporter waiting, no receipt over {s.slack:.1f} s without routing; empty: never)\n")
    with psycopg.connect(DSN, connect_timeout=5) as conn:  # outcomes from the database, without plaintext
        cases = [(bytes(index), *rest) for index, *rest in conn.execute(CASES_SQL)]
    per_receipt = Counter(case[0] for case in cases)
    o = {"reports": sum(p["reports"] for p in phases), "receipts": len(s.given), "cases": len(cases)}
    o["routed_once"] = sum(routed and first == rounds == 1 and to <= 1 for _, routed, first, _, rounds, to in cases)
    o["routed_more_than_once"] = sum(rounds > 1 or to > 1 for *_, rounds, to in cases)
    o["receipt_without_case"] = sum(per_receipt[index] == 0 for index in s.given)
    o["case_never_routed"] = sum(not routed or rounds == 0 for _, routed, _, _, rounds, _ in cases)
    o["receipt_with_two_cases"] = sum(per_receipt[index] > 1 for index in s.given)
    o["case_without_receipt"] = sum(case[0] not in s.given for case in cases)
    o["danger_report_marked_resent"] = sum(case[3] for case in cases)
    o |= {key: s.counts[key] for key in ("refiled_after_already_received", "gave_up")}
    o["lost"] = o["receipt_without_case"] + o["case_never_routed"]
    o["duplicated"] = o["receipt_with_two_cases"] + o["case_without_receipt"]
    print(*(f"{key.replace('_', ' ')} {n}" for key, n in o.items()), sep=", ")
    mem, rows = {"all": {f"{w}_mb": round(sum(kb for _, kb in p.values()) / 1024, 1) for w, p in procs.items()}}, []
    for kind in KINDS:  # per kind: processes and mean MB at start and end, the largest growth of one that lived through
        lived = [end[p][1] / start[p][1] - 1 for p in start.keys() & end.keys() if start[p][0] == kind]
        mem[kind] = {"max_growth": round(max(lived), 3) if lived else None}
        for when, found in procs.items():
            kb = [rss for k, rss in found.values() if k == kind]
            mem[kind] |= {f"{when}_n": len(kb), f"{when}_mb": round(sum(kb) / len(kb) / 1024, 1) if kb else 0.0}
        rows.append([kind, *list(mem[kind].values())[1:], f"{max(lived):+.1%}" if lived else "—"])
    harness.table(["process", "start n", "MB each", "end n", "MB each", "max growth"], rows)
    print("all processes: {start_mb:.0f} MB after the baseline, {end_mb:.0f} MB at the end".format(**mem["all"]))
    drained = [p["drain_s"] for p in phases[1:] if p["drain_s"] is not None]
    logs = [line for log in (s.workdir / "logs").glob("*") for line in log.open(errors="replace")]
    log_lines = sum(bool(re.search(r"\b(WARNING|ERROR|CRITICAL)\b|exception raised while", line)) for line in logs)
    print(f"worst time to drain {max(drained, default=0):.1f} s (target ≤ {TARGET_DRAIN_S:g} s); ", end="")
    print(f"everything routed at the end: {all_routed}; log warnings and errors: {log_lines} lines")
    print(f"processes that exited unkilled: {len(s.exits)}", *s.exits[:10], sep="\n  ")
    broken = [o["lost"], o["duplicated"], o["routed_once"] != o["cases"], o["gave_up"], not all_routed]
    missed = max(drained, default=0) > TARGET_DRAIN_S or max(mem[k]["max_growth"] or 0 for k in KINDS) > TARGET_GROWTH
    found = {"bench": "soak", "cpus": os.cpu_count(), "outcomes": o, "all_routed": all_routed, "phases": phases}
    found |= {"worst_drain_s": max(drained, default=None), "memory": mem, "log_lines": log_lines}
    status = 1 if any(broken) or None in [p["drain_s"] for p in phases] else 2 if missed else 0
    return found | {"unexpected_exits": len(s.exits), "status": status}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split(". ")[0])
    parser.add_argument("--quick", action="store_true", help="50 + 200 reports at 4/s, each fault once (CI)")
    began, s = time.monotonic(), Soak(parser.parse_args().quick)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # cleaned up as after Ctrl-C
    print(f"soak: {s.reports // 4} + {s.reports} reports, {4 * s.rounds} faults, {s.rate:g} a second")
    try:
        s.start()
        print(f"  hosts up after {time.monotonic() - began:.0f} s ({s.workdir})", flush=True)
        found = figures(s, *soak(s)) | {"elapsed_s": round(time.monotonic() - began, 1)}
    finally:
        s.stop()
    return harness.finish(found, found.pop("status"), s.errors)


if __name__ == "__main__":
    sys.exit(main())
