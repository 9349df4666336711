"""`python -m workers`: sweep stuck cases, then work the queues until stopped.

``--burst`` works until the queues are empty, then exits (for maintenance and tests).
"""

from __future__ import annotations

import argparse
import os

from rq import Worker

from app.extensions import db
from app.triage.queue import queue_names, redis_connection, sweep
from workers.context import worker_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    app = worker_app()
    with app.app_context():
        # Anything committed while Redis was away, or never picked up, is queued again first.
        sweep()
        engine = db.engine
        # Each job runs in a forked child: give it its own database connections.
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
        worker = Worker(list(queue_names()), connection=redis_connection(), serializer="json")
        worker.work(burst=args.burst, with_scheduler=not args.burst)


if __name__ == "__main__":
    main()
