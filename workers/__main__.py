"""`python -m workers`: the RQ worker for Confide.

At start it queues again every case no worker has routed and escalates every deadline that
passed while no worker ran (the database is the source of truth, so an interrupted job is
simply done again). Then it works the urgent and default queues (JSON serializer) with RQ's
scheduler for deadline checks, and, unless --no-cron, runs RQ's cron scheduler and a small
worker for the periodic jobs (see workers/cron.py). SIGTERM stops it gracefully: the job in
hand finishes first.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rq import SimpleWorker, Worker

from app.extensions import db
from app.triage.queue import queue_names, redis_connection
from workers.context import worker_app

ROOT = Path(__file__).resolve().parent.parent


def periodic_queue() -> str:
    return f"{worker_app().config['CONFIDE'].queue_prefix}-periodic"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--no-cron", action="store_true", help="no periodic jobs here (other hosts run them)")
    parser.add_argument("--periodic", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    app = worker_app()
    with app.app_context():
        if args.periodic:
            # Only argument-less periodic jobs arrive here, enqueued by RQ's cron.
            Worker([periodic_queue()], connection=redis_connection()).work()
            return
        from workers.jobs import sweep_and_escalate

        sweep_and_escalate(force=True)
        db.session.remove()
        helpers: list[subprocess.Popen[bytes]] = []
        if not (args.burst or args.no_cron):
            redis_url = app.config["CONFIDE"].redis_url
            helpers.append(
                subprocess.Popen([sys.executable, "-m", "rq.cli", "cron", str(ROOT / "workers" / "cron.py"), "--url", redis_url], cwd=ROOT)
            )
            helpers.append(subprocess.Popen([sys.executable, "-m", "workers", "--periodic"], cwd=ROOT))
        try:
            # Jobs run in this process, each with a session of its own (workers/context.py): a
            # forked child per job would open a new database connection every time, which
            # once measured four times the cost of routing the case.
            worker = SimpleWorker(list(queue_names()), connection=redis_connection(), serializer="json")
            worker.work(burst=args.burst, with_scheduler=not args.burst)
        finally:
            for helper in helpers:
                helper.terminate()
            for helper in helpers:
                try:
                    helper.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    helper.kill()


if __name__ == "__main__":
    main()
