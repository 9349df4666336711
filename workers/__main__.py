"""`python -m workers`: one RQ worker process, declared in the Procfile and kept running by
a supervisor (honcho under `make run`, systemd in production: deploy/systemd).

It starts no other process: the scheduler and the periodic jobs are `python -m workers.clock`.
At start it queues again every case no worker has routed and escalates every deadline that
passed while no worker ran (the database is the source of truth, so an interrupted job is
simply done again). Then it works the urgent queue before the default one. Every job is JSON
and must be one of Confide's own (workers/listed.py); each runs in this process with a
database session of its own (workers/context.py).

Redis going away never ends it: it waits with backoff and starts working again as a new RQ
worker when Redis answers. While it lives, a thread keeps a short-lived key fresh in Redis
(app.triage.queue.worker_alive_key), so the sweep can tell a job it had started from one
whose worker was killed. SIGTERM stops it gracefully: the job in hand finishes first.
"""

from __future__ import annotations

import argparse
import logging
import threading
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker

from app.extensions import db
from app.triage.queue import ALIVE_SECONDS, queue_names, redis_connection, worker_alive_key
from workers.context import worker_app
from workers.listed import ListedJob

log = logging.getLogger("confide.worker")

BACKOFF_SECONDS = (1, 2, 4, 8, 10)


class ConfideWorker(SimpleWorker):
    """RQ's worker running jobs in its own process, only Confide's jobs, remembering a stop
    was asked for (RQ's work loop also returns when it gives up on Redis)."""

    job_class = ListedJob
    stop_asked = False

    def request_stop(self, signum: Any = None, frame: Any = None) -> None:
        ConfideWorker.stop_asked = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


class Alive(threading.Thread):
    """Keeps the worker's liveness key fresh; touches Redis only, never the database."""

    def __init__(self, redis: Redis) -> None:
        super().__init__(name="worker-alive", daemon=True)
        self.redis, self.key = redis, ""
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(ALIVE_SECONDS / 4):
            if self.key:
                try:
                    self.redis.set(self.key, "1", ex=ALIVE_SECONDS)
                except RedisError:
                    pass  # the worker's own loop reports Redis being away

    def stop(self) -> None:
        self.stopping.set()
        if self.key:
            try:
                self.redis.delete(self.key)
            except RedisError:
                pass


def catch_up() -> None:
    """Route what waits and escalate what is overdue; a failure here is the sweep's to mend."""
    from workers.jobs import sweep_and_escalate

    try:
        sweep_and_escalate(force=True)
    except Exception as error:  # noqa: BLE001 - the worker must start whatever state Redis or the database is in
        log.warning("catching up at start failed (%s); the periodic sweep will", error.__class__.__name__)
    finally:
        db.session.remove()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    app = worker_app()
    with app.app_context():
        catch_up()
        redis = redis_connection()
        alive = Alive(redis)
        alive.start()
        attempt = 0
        try:
            while not ConfideWorker.stop_asked:
                try:
                    worker = ConfideWorker(list(queue_names()), connection=redis, serializer="json")
                    alive.key = worker_alive_key(worker.name)
                    redis.set(alive.key, "1", ex=ALIVE_SECONDS)
                    worked = worker.work(burst=args.burst, with_scheduler=False)
                except RedisError as error:
                    worked = False
                    log.warning("Redis unreachable (%s)", error.__class__.__name__)
                if args.burst or ConfideWorker.stop_asked:
                    break
                # RQ's loop gave up (Redis went away, or a fault it does not handle): wait,
                # then start again as a new worker, registered anew.
                attempt = 0 if worked else attempt + 1
                pause = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
                log.warning("worker stopped working; starting again in %d s", pause)
                if alive.stopping.wait(pause):
                    break
        finally:
            alive.stop()


if __name__ == "__main__":
    main()
