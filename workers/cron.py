"""Periodic jobs, for RQ's own cron scheduler (started by `python -m workers`).

RQ's cron enqueues with RQ's default serializer, so these jobs use a queue of their own,
served by a worker of its own; they take no arguments at all, so nothing but a function
name ever travels that way. Every job here is safe to run twice or on several hosts.
"""

from __future__ import annotations

from rq import cron

from app.config import load_settings
from workers import jobs

_settings = load_settings()
PERIODIC_QUEUE = f"{_settings.queue_prefix}-periodic"

cron.register(jobs.sweep_and_escalate, queue_name=PERIODIC_QUEUE, interval=60)
cron.register(jobs.send_notifications, queue_name=PERIODIC_QUEUE, interval=_settings.mail.digest_minutes * 60)
