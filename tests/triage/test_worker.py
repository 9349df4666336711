"""The real worker and clock processes: they route what is queued and run the periodic jobs,
stop cleanly, and heal from faults: a worker killed mid-routing, a job whose worker died,
Redis dropped during a job, PostgreSQL restarted between jobs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from rq import Queue, Worker
from rq.job import Job
from sqlalchemy import make_url

from app import ROOT
from app.cases.models import Case
from app.extensions import db
from app.triage.queue import queue_names
from tests.conftest import _require_postgres, worker_env
from tests.factories import make_case
from tests.triage.test_routing import responder


def wait_for(condition, seconds: float = 30) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def test_the_worker_routes_then_stops_gracefully_on_sigterm(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path
) -> None:
    maple = responder()
    case = make_case()
    output = open(log_file.with_suffix(".worker"), "wb")  # noqa: SIM115
    env = worker_env(app, keys_dir, log_file)
    process = subprocess.Popen(
        [sys.executable, "-m", "workers"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    clock = subprocess.Popen(
        [sys.executable, "-m", "workers.clock"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:

        def routed() -> bool:
            db.session.expire_all()
            found = db.session.get(Case, case.id)
            return found is not None and found.assigned_to_id == maple.id

        assert wait_for(routed), "the worker did not route the queued case:\n" + tail(log_file.with_suffix(".worker"))
        # The periodic jobs have been queued and run.
        default = Queue(queue_names()[1], connection=redis_client)

        def periodic_ran() -> bool:
            return any(job_id.startswith("periodic-") for job_id in default.finished_job_registry.get_job_ids())

        assert wait_for(periodic_ran), "no periodic job ran"
        # Each is one process: neither started another.
        for pid in (process.pid, clock.pid):
            assert not children_of(pid), f"process {pid} started {children_of(pid)}"
    finally:
        for each in (process, clock):
            each.send_signal(signal.SIGTERM)
        try:
            stopped = process.wait(timeout=60), clock.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            clock.kill()
            raise
        finally:
            output.close()
    assert stopped == (0, 0)
    queues = [Queue(name, connection=redis_client) for name in queue_names()]
    assert all(Worker.all(queue=queue) == [] for queue in queues), "workers must deregister on SIGTERM"


def children_of(pid: int) -> list[int]:
    """The processes ``pid`` started, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_worker_killed_mid_routing_leaves_the_case_to_be_routed_once_after_restart(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path
) -> None:
    maple = responder()
    case = make_case()
    env = worker_env(app, keys_dir, log_file)
    # Hold the database so the routing job blocks half-way: a lock on the case row
    # (PostgreSQL) or the write lock (SQLite). The job has begun but cannot finish.
    blocker = db.engine.connect()
    if blocker.dialect.name == "sqlite":
        blocker.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        blocker.begin()
        blocker.exec_driver_sql("SELECT id FROM cases WHERE id = %(id)s FOR UPDATE", {"id": case.id})
    process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env, start_new_session=True)
    try:
        started = Queue(queue_names()[1], connection=redis_client).started_job_registry
        assert wait_for(lambda: len(started) > 0), "the routing job never started"
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the worker and the job's work horse, at once
        process.wait(timeout=30)
        blocker.rollback()
        blocker.close()
    db.session.expire_all()
    assert db.session.get(Case, case.id).routing_state == "intake"  # type: ignore[union-attr]

    restarted = subprocess.Popen([sys.executable, "-m", "workers", "--burst"], cwd=ROOT, env=env)
    assert restarted.wait(timeout=120) == 0

    db.session.expire_all()
    routed = db.session.get(Case, case.id)
    assert routed is not None and routed.assigned_to_id == maple.id and routed.routing_round == 1
    from app.notify.models import Notification
    from app.triage.models import RoutingRound

    assert db.session.query(RoutingRound).count() == 1
    assert db.session.query(Notification).filter_by(kind="assigned").count() == 1


def _local_cluster(host: str, port: int) -> tuple[str, str] | None:
    """The PostgreSQL cluster (version, name) this machine runs on ``port``, if this process
    may restart it: a loopback address, root, and Debian's pg_ctlcluster."""
    if host not in ("127.0.0.1", "localhost", "::1") or os.geteuid() != 0:
        return None
    if shutil.which("pg_ctlcluster") is None:
        return None
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True, timeout=30)
    for line in listed.stdout.splitlines():
        version, name, cluster_port, *_ = line.split()
        if cluster_port == str(port):
            return version, name
    return None


def _pg_ctlcluster(cluster: tuple[str, str], action: str) -> None:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action]
    subprocess.run(command, check=True, timeout=120)


def _accepting(host: str, port: int) -> bool:
    checked = subprocess.run(["pg_isready", "-q", "-h", host, "-p", str(port)], timeout=30)
    return checked.returncode == 0


def restartable_cluster(database_url: object) -> tuple[str, int, tuple[str, str]]:
    """Host, port and local cluster of the PostgreSQL server a test may restart; skips on
    SQLite, and where it may not restart it (a failure when PostgreSQL tests are required)."""
    url = make_url(database_url)  # type: ignore[arg-type]
    if url.get_backend_name() != "postgresql":
        pytest.skip("a restart of the database server is a PostgreSQL fault: SQLite has no server")
    host, port = url.host or "127.0.0.1", url.port or 5432
    cluster = _local_cluster(host, port)
    if cluster is None:
        message = f"cannot restart PostgreSQL at {host}:{port} (needs root and a local Debian cluster)"
        if _require_postgres():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return host, port, cluster


def test_the_worker_routes_again_after_postgresql_restarts_between_jobs(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path
) -> None:
    host, port, cluster = restartable_cluster(app.config["SQLALCHEMY_DATABASE_URI"])
    maple_id = responder().id
    first_id = make_case().id
    queues = [Queue(name, connection=redis_client, serializer="json") for name in queue_names()]

    def assignee(case_id: str) -> str | None:
        db.session.expire_all()
        found = db.session.get(Case, case_id)
        return found.assigned_to_id if found else None

    def finished_jobs() -> list[Job]:
        return [
            Job.fetch(job_id, connection=redis_client, serializer="json")
            for queue in queues
            for job_id in queue.finished_job_registry.get_job_ids()
        ]

    worker_output = log_file.with_suffix(".restart-worker")
    output = open(worker_output, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "workers"],
        cwd=ROOT,
        env=worker_env(app, keys_dir, log_file),
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(lambda: assignee(first_id) == maple_id), "the worker did not route the first case:\n" + tail(
            worker_output
        )
        # Between jobs: the first one is done, and the worker waits for the next.
        assert wait_for(lambda: len(finished_jobs()) == 1), "the first routing job did not finish"
        # A restart ends every connection to the server, this process's own too: hand ours
        # back before, and drop the dead ones after.
        db.session.remove()
        _pg_ctlcluster(cluster, "restart")
        assert wait_for(lambda: _accepting(host, port), 60), "PostgreSQL did not come back"
        db.engine.dispose()

        second_id = make_case().id
        assert wait_for(lambda: assignee(second_id) == maple_id), (
            "the worker did not route a case queued after PostgreSQL restarted:\n" + tail(worker_output)
        )
        assert process.poll() is None, "the worker must live through the restart"
        assert wait_for(lambda: len(finished_jobs()) == 2), "the second routing job did not finish"
        names = {job.worker_name for job in finished_jobs()}
        assert len(names) == 1 and all(names), f"one worker must have routed both cases, not {names}"
    finally:
        try:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        finally:
            output.close()
            # Whatever happened above, the server is left running for everyone else.
            if not _accepting(host, port):
                _pg_ctlcluster(cluster, "start")
                assert wait_for(lambda: _accepting(host, port), 60), "PostgreSQL did not start again"
