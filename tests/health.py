"""Waiting for a served app: poll `/healthz` until it answers 200, with a deadline that is only a safety net.

A machine with both cores busy can take a minute to start gunicorn and build the app in each worker, so the
deadline is generous and no test reads anything into how long the wait took.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import requests

DEADLINE_S = 300.0  # a start-up that takes this long is broken, not slow
REQUEST_TIMEOUT_S = 30.0  # one /healthz request; a booting worker may hold the first one for a while


def wait_for_health(
    base: str,
    *,
    proc: subprocess.Popen | None = None,
    output: Callable[[], str] = lambda: "",
    deadline_s: float = DEADLINE_S,
) -> requests.Response:
    """GET `base`/healthz until it answers 200 and return that answer; fail if `proc` exits first (with
    `output()` in the message) or after `deadline_s` seconds."""
    until = time.monotonic() + deadline_s
    last = "no answer"
    while time.monotonic() < until:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}) before it was healthy:\n{output()}")
        try:
            answer = requests.get(f"{base}/healthz", timeout=REQUEST_TIMEOUT_S)
            if answer.status_code == 200:
                return answer
            last = f"{answer.status_code} {answer.text[:500]}"
        except requests.RequestException as exc:  # not listening yet, or a worker still booting
            last = repr(exc)
        time.sleep(0.3)
    raise AssertionError(f"{base}/healthz did not answer 200 within {deadline_s:.0f} s ({last}):\n{output()}")
