"""`python -m workers.clock`: the clock of a host, declared in the Procfile beside the workers.

Once a second it does two things, in this one process and thread, touching Redis only:

* RQ's scheduler duty: deadline checks (app.triage.queue.schedule_deadline_checks) whose time
  has come move from RQ's scheduled registry onto the urgent queue. RQ's own locks let one
  clock at a time do this for each queue, whichever host it is on.
* the periodic jobs (workers/periodic.py), queued once a slot for all hosts.

Neither needs the database or the keys, and it starts no other process. Redis going away is
waited out: the locks are taken again when it answers, the scheduler registers anew, and a
deadline timer lost with Redis is caught by the periodic scan (sweep_and_escalate). SIGTERM
or SIGINT stops it at the end of the second.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import Any

from redis.exceptions import RedisError
from rq.scheduler import RQScheduler

from app.cases.rekeying import REWRAP_EVERY_SECONDS
from app.circles.mailing import CIRCLE_MAIL_SECONDS
from app.config import load_settings
from app.retention.policy import RETENTION_SECONDS
from app.triage.queue import SWEEP_SECONDS
from workers.periodic import Ticker

log = logging.getLogger("confide.worker")

QUEUES = ("urgent", "default")
LOCK_RETRY_SECONDS = 5


class Clock:
    """The scheduler duty and the periodic jobs, a tick at a time."""

    def __init__(self, redis_url: str, queue_prefix: str, jobs: dict[str, int]) -> None:
        self.ticker = Ticker(redis_url, queue_prefix, jobs)
        self.scheduler = RQScheduler(
            [f"{queue_prefix}-{queue}" for queue in QUEUES], connection=self.ticker.redis, serializer="json"
        )
        self.registered = False
        self.redis_away = False
        self.tried_locks = 0.0

    def tick(self) -> None:
        try:
            if not self.registered:
                self.scheduler.register_birth()
                self.registered = True
            # RQ's own fallback tries for a lock another clock held only every 10 minutes; a
            # clock that died leaves its lock to expire in a minute, so try every few seconds.
            now = time.monotonic()
            if len(self.scheduler.acquired_locks) < len(QUEUES) and now - self.tried_locks >= LOCK_RETRY_SECONDS:
                self.tried_locks = now
                self.scheduler.acquire_locks()
            if self.scheduler.acquired_locks:
                self.scheduler.heartbeat()
                self.scheduler.enqueue_scheduled_jobs()
        except RedisError as error:
            if not self.redis_away:
                log.warning("clock: Redis unreachable (%s); trying every second", error.__class__.__name__)
            # Registered anew when Redis answers; a lock lost with a restarted Redis is taken
            # again by the next heartbeat.
            self.redis_away, self.registered = True, False
        else:
            if self.redis_away:
                log.warning("clock: Redis answers again")
            self.redis_away = False
        self.ticker.tick()

    def stop(self) -> None:
        try:
            self.scheduler.stop()
        except RedisError:
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers.clock", description=__doc__)
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load_settings()
    clock = Clock(
        settings.redis_url,
        settings.queue_prefix,
        {
            "sweep_and_escalate": SWEEP_SECONDS,
            "send_notifications": settings.mail.digest_minutes * 60,
            "audit_checkpoint": settings.audit_checkpoint_minutes * 60,
            "circle_mail": CIRCLE_MAIL_SECONDS,
            "rewrap_keys": REWRAP_EVERY_SECONDS,
            "retention": RETENTION_SECONDS,
        },
    )
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping.is_set():
        try:
            clock.tick()
        except Exception:  # noqa: BLE001 - the clock must outlive any one failure
            log.exception("clock: a tick failed; trying again in a second")
        stopping.wait(1)
    clock.stop()


if __name__ == "__main__":
    main()
