"""`python -m workers`: the RQ worker for Confide.

At start it queues again every case no worker has routed and escalates every deadline that
passed while no worker ran (the database is the source of truth, so an interrupted job is
simply done again). Then it works the urgent and default queues with RQ's scheduler for
deadline checks, and, unless --no-periodic, queues the periodic jobs (workers/periodic.py).
Every job is JSON and must be one of Confide's own (workers/listed.py). SIGTERM stops it
gracefully: the job in hand finishes first.
"""

from __future__ import annotations

import argparse

from rq import SimpleWorker

from app.extensions import db
from app.triage.queue import queue_names, redis_connection
from workers.context import worker_app
from workers.listed import ListedJob
from workers.periodic import Ticker


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument(
        "--no-periodic", action="store_true", help="queue no periodic jobs from here (other hosts do)"
    )
    args = parser.parse_args(argv)
    app = worker_app()
    settings = app.config["CONFIDE"]
    with app.app_context():
        from workers.jobs import sweep_and_escalate

        sweep_and_escalate(force=True)
        db.session.remove()
        ticker = None
        if not (args.burst or args.no_periodic):
            ticker = Ticker(
                settings.redis_url,
                settings.queue_prefix,
                {
                    "sweep_and_escalate": 60,
                    "send_notifications": settings.mail.digest_minutes * 60,
                    "audit_checkpoint": settings.audit_checkpoint_minutes * 60,
                },
            )
            ticker.start()
        try:
            # Jobs run in this process, each with a session of its own (workers/context.py): a
            # forked child per job would open a new database connection every time, which
            # once measured four times the cost of routing the case.
            worker = SimpleWorker(
                list(queue_names()), connection=redis_connection(), serializer="json", job_class=ListedJob
            )
            worker.work(burst=args.burst, with_scheduler=not args.burst)
        finally:
            if ticker is not None:
                ticker.stop()


if __name__ == "__main__":
    main()
