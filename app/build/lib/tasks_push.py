"""MRQ tasks, with the original names: `mrq-run --queue task1 tasks_push.task1 '1234'`."""

from __future__ import annotations

from typing import Any

from dotask import do_task1, do_task2
from mrq.task import Task


class task1(Task):
    def run(self, params: Any) -> str:
        return do_task1(params)


class task2(Task):
    def run(self, params: Any) -> str:
        return do_task2(params)


class slow(Task):
    """Sleeps `params` seconds, then answers: lets tests stop a worker mid-job."""

    def run(self, params: Any) -> str:
        import time

        time.sleep(float(params))
        return f"slow:{params}"
