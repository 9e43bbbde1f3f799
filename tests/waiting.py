"""The one polling helper every test uses: a bounded wait that names what it waited for, so a
time-out reads as the missing behaviour rather than as a bare ``AssertionError``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0,
             every: float = 0.05) -> Any:
    """Call ``check`` until it returns something truthy, and return that; fail at ``timeout``
    seconds with ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} "
                                 f"(last: {repr(value)[:300]})")
        time.sleep(every)
