"""`python -m workers`: sweep stuck cases, then work the queues until stopped."""

from __future__ import annotations

import os

from rq import Worker

from app.extensions import db
from app.triage.queue import queue_names, redis_connection, sweep
from workers.context import worker_app


def main() -> None:
    app = worker_app()
    with app.app_context():
        sweep()
        engine = db.engine
        # Each job runs in a forked child: give it its own database connections.
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
        worker = Worker(
            list(queue_names()), connection=redis_connection(), serializer="json"
        )
        worker.work(with_scheduler=True)


if __name__ == "__main__":
    main()
