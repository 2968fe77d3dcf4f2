"""A status line for long waits: what we wait for and for how long.

In JupyterLab it updates one output line in place; elsewhere (scripts, logs) it prints a line
when the message changes or every few seconds, so no wait is silent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

from helpers.errors import ShownAsMessage

T = TypeVar("T")


class WaitTimeout(ShownAsMessage, TimeoutError):
    """A wait that timed out: what was awaited, the last state seen, and what the cluster looks like."""


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"
    except ImportError:
        return False


def _plain(text: str) -> dict[str, str]:
    return {"text/plain": text}


class StatusLine:
    def __init__(self, what: str, every: float = 5.0):
        self.what = what
        self.every = every
        self.start = time.monotonic()
        self._handle = None
        self._last_text = ""
        self._last_print = 0.0
        if _in_notebook():
            from IPython.display import display

            self._handle = display(_plain(self._format("starting")), raw=True, display_id=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def _format(self, detail: str) -> str:
        return f"⏳ {self.what}: {detail} ({self.elapsed:.0f} s)"

    def update(self, detail: str) -> None:
        text = self._format(detail)
        if self._handle is not None:
            self._handle.update(_plain(text), raw=True)
        elif detail != self._last_text or time.monotonic() - self._last_print >= self.every:
            print(text, file=sys.stderr, flush=True)
            self._last_print = time.monotonic()
        self._last_text = detail

    def _final(self, mark: str, detail: str) -> None:
        text = f"{mark} {self.what}: {detail} ({self.elapsed:.1f} s)"
        if self._handle is not None:
            self._handle.update(_plain(text), raw=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def done(self, detail: str) -> None:
        self._final("✅", detail)

    def failed(self, detail: str) -> None:
        self._final("❌", detail)


def wait_for(
    what: str,
    check: Callable[[], tuple[bool, str]],
    timeout: float,
    interval: float = 0.5,
    on_timeout: Callable[[], str] | None = None,
) -> float:
    """Call ``check`` until it returns (True, detail); show progress; return the seconds waited.

    ``check`` may raise to stop the wait early (e.g. a deploy that failed). On timeout a
    TimeoutError says what was awaited, the last state seen and, if given, ``on_timeout()``.
    """
    line = StatusLine(what)
    detail = "starting"
    try:
        while True:
            ok, detail = check()
            if ok:
                line.done(detail)
                return line.elapsed
            if line.elapsed >= timeout:
                break
            line.update(detail)
            time.sleep(interval)
    except KeyboardInterrupt:
        line.failed(f"interrupted; last state: {detail}")
        raise
    except Exception as exc:
        line.failed(str(exc).splitlines()[0])
        raise
    extra = on_timeout() if on_timeout else ""
    line.failed(f"timed out; last state: {detail}")
    raise WaitTimeout(f"Waited {timeout:.0f} s for {what}; last state: {detail}." + (f"\n{extra}" if extra else ""))
