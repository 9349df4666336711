"""`make run`: the web app, one worker and (if needed) a private Redis, on this machine.

Redis at the configured URL is used when it answers; otherwise a private redis-server is
started on a free local port (Debian's package is installed first if it is missing).
Stop everything with Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from app.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def redis_answers(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    print("No Redis server found: installing Debian's redis-server package…", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "redis-server"], check=True)
    found = shutil.which("redis-server")
    if not found:
        raise SystemExit("redis-server is still missing; install it and run `make run` again.")
    return found


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the web app stopped while starting; see the messages above.")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"the web app did not start listening on port {port}.")


def first_coordinator_link(base_url: str) -> str | None:
    """An enrolment link for a first coordinator, while the database has none."""
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.staff.models import StaffUser
    from app.staff.services import invite_staff

    app = create_app(base_url=base_url)
    with app.app_context():
        try:
            exists = db.session.scalar(
                select(StaffUser.id).where(StaffUser.role == "coordinator", StaffUser.enrolled_at.is_not(None))
            )
            if exists:
                return None
            return invite_staff("coordinator@confide.local", "coordinator", name="First coordinator")
        finally:
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    settings = load_settings()
    env = dict(os.environ)
    processes: list[subprocess.Popen[bytes]] = []
    if not redis_answers(settings.redis_url):
        port = free_port()
        print(f"Redis at {settings.redis_url} does not answer; starting a private one on port {port}.")
        processes.append(
            subprocess.Popen(
                [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
        )
        env["CONFIDE_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    web_port = int(env.get("PORT", "5000"))
    host = env.get("HOST", "127.0.0.1")
    shown_host = "127.0.0.1" if host == "0.0.0.0" else host
    env["CONFIDE_BASE_URL"] = env.get("CONFIDE_BASE_URL") or f"http://{shown_host}:{web_port}"
    enrol_link = first_coordinator_link(env["CONFIDE_BASE_URL"])
    # No --access-logfile: gunicorn then writes no request lines, so no client addresses.
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"{host}:{web_port}", "app.wsgi:app"],
        cwd=ROOT,
        env=env,
    )
    processes.append(web)
    processes.append(subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env))
    try:
        wait_for_port(web_port, web)
        print()
        print(f"  Confide is running at http://{shown_host}:{web_port}/")
        print("  Reporters start at /report; come back with a receipt at /status.")
        print(f"  Staff sign in at http://{shown_host}:{web_port}/staff/login")
        if enrol_link:
            print("  First coordinator login: open this link to set a password and TOTP")
            print(f"  (it works once; `flask staff invite` makes more): {enrol_link}")
        print("  Press Ctrl-C to stop.")
        print(flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("A process stopped; stopping the rest.")
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
