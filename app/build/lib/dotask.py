"""The work itself, kept apart from MRQ (names of the original setup)."""

from __future__ import annotations

from typing import Any


def do_task1(params: Any) -> str:
    return f"task1:{params}"


def do_task2(params: Any) -> str:
    return f"task2:{params}"
