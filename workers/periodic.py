"""The periodic jobs, queued by the clock process (workers/clock.py) of every host.

Each job runs every ``interval`` seconds (the sweep and escalation every 20 seconds, the
notice digests every ``mail.digest_minutes``, the emails of peer circles every five minutes,
the retention pass every hour).
Time is cut into slots of that length; in each slot the first clock, on any host, to claim it
(a Redis key set only if absent) queues the job on the default queue, as JSON, like every other
job. A slot lost while Redis was away is simply the next one. Each job is safe to run twice, so
a slot claimed twice does no harm.
"""

from __future__ import annotations

import logging
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

log = logging.getLogger("confide.worker")


class Ticker:
    """Queues each periodic job once a slot; :meth:`tick` is called every second."""

    def __init__(self, redis_url: str, queue_prefix: str, jobs: dict[str, int]) -> None:
        """``jobs``: a job's name in ``workers.jobs``, and its interval in seconds."""
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
        self.prefix = queue_prefix
        self.queue = Queue(f"{queue_prefix}-default", connection=self.redis, serializer="json")
        self.jobs = jobs
        self.done: dict[str, int] = {}  # the last slot of each job seen to, here
        self.redis_away = False

    def tick(self, now: float | None = None) -> int:
        """Queue what is due in this slot; returns how many jobs this worker queued."""
        now = time.time() if now is None else now
        queued = 0
        for name, interval in self.jobs.items():
            slot = int(now // interval)
            if self.done.get(name) == slot:
                continue
            try:
                claim = f"{self.prefix}:periodic:{name}:{slot}"
                if self.redis.set(claim, "1", nx=True, ex=2 * interval):
                    self.queue.enqueue(
                        f"workers.jobs.{name}",
                        job_id=f"periodic-{name}-{slot}",
                        description=name,
                        result_ttl=3600,
                        failure_ttl=86400,
                    )
                    queued += 1
            except RedisError as error:
                if not self.redis_away:
                    log.warning("periodic jobs not queued (%s); trying every second", error.__class__.__name__)
                self.redis_away = True
                return queued
            self.redis_away = False
            self.done[name] = slot
        return queued
