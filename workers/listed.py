"""Only Confide's own jobs run here, whatever a queue holds.

RQ imports and calls whatever function a job names, with whatever callbacks it names. Anyone
who can write to Redis could then run code in the worker, which holds the keys to every report.
A job here must name one of the functions in :data:`workers.jobs.JOBS`, with no callbacks and
no object to call it on; every queue uses JSON, which carries data and never code. A job that
fails the check fails without running, and its failure says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rq.job import Job


class UnlistedJob(Exception):
    """A job that is not one of Confide's."""


class ListedJob(Job):
    """A job that runs only a function on the list."""

    @property
    def func(self) -> Callable[..., Any]:
        from workers.jobs import JOBS

        name = self.func_name
        callbacks = (self._success_callback_name, self._failure_callback_name, self._stopped_callback_name)
        if self.instance is not None or name not in JOBS or any(callbacks):
            raise UnlistedJob(f"job {self.id} names {name!r} (or callbacks), which is not a Confide job")
        return JOBS[name]

    # RQ would import and call a callback a job names. None of ours has one; the job that
    # names one does not run (above), and its callbacks are never looked up.
    @property
    def success_callback(self) -> None:
        return None

    @property
    def failure_callback(self) -> None:
        return None

    @property
    def stopped_callback(self) -> None:
        return None
