"""Errors the helpers understand are shown as their message, not as a traceback through the helpers.

IPython (JupyterLab, papermill, nbval) asks an exception for ``_render_traceback_()`` before it formats a
traceback; these errors answer with their own message, which already says what is wrong and what to do.
Outside IPython they are ordinary exceptions with the same message.
"""

from __future__ import annotations

RED, RESET = "\x1b[31m", "\x1b[0m"


class ShownAsMessage:
    """Mixin for the project's exceptions: a notebook shows ``Name: message`` and nothing else."""

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return [f"{RED}{type(self).__name__}{RESET}: {lines[0]}", *lines[1:]]


__all__ = ["ShownAsMessage"]
