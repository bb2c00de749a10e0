"""Filter plugins report a module_utils error as Ansible's AnsibleFilterError."""

from __future__ import annotations

import functools
from typing import Any, Callable


def as_filter(func: Callable[..., Any], error: type[Exception]) -> Callable[..., Any]:
    """`func`, raising AnsibleFilterError (the message kept) where it raised `error`."""
    from ansible.errors import AnsibleFilterError

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except error as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return wrapped
