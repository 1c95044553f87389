"""A wall-clock time limit for a student's function, used by ``check`` / ``evaluate``.

``TimeLimit(seconds).call(function, *args)`` runs ``function`` and raises ``TimeLimitExceeded`` inside it
once the budget is spent; the budget is shared by every ``call`` on the same ``TimeLimit`` (one ``check``
runs the student's function on all its cases within one budget). ``DEFAULT_TIMEOUT`` is the conventions'
per-cell grading limit.

How: a ``SIGALRM`` handler and ``signal.setitimer(ITIMER_REAL, ...)``. Python runs the handler between
bytecodes of the main thread, so it stops pure-Python loops and loops of torch/numpy calls, and its
exception unwinds the student's code normally (``finally`` blocks run). The previous handler and timer are
put back afterwards, the timer less the time spent; an outer timer that falls due first is handed to the
previous handler, so limits nest. Limits of the mechanism, which all mean "no limit", never an error:

* only the main thread may set signal handlers: in any other thread (or without ``SIGALRM`` /
  ``setitimer``, e.g. on Windows, or when the current handler was installed outside Python) the function
  runs without a limit (``can_interrupt()`` says which applies);
* a single C-level call that never returns to Python (a huge matmul, a blocking read, a deadlock in a
  library) cannot be interrupted: the exception is raised as soon as control comes back to Python;
* ``TimeLimitExceeded`` derives from ``BaseException`` so that ``except Exception`` in the student's code
  does not swallow it; if a bare ``except:`` does, the alarm repeats every ``REPEAT`` seconds.
"""
from __future__ import annotations

import math
import numbers
import signal
import threading
import time
from typing import Any, Callable

DEFAULT_TIMEOUT = 30.0  # seconds; the conventions' per-cell grading limit
REPEAT = 1.0  # seconds between repeated alarms when the first exception was swallowed
_LONGEST = 1e6  # setitimer is armed at most this far ahead (and re-armed), to stay within its range
_SLACK = 1e-3  # an alarm this early still counts as due (clock granularity)


class TimeLimitExceeded(BaseException):
    """Raised inside the limited function when its ``TimeLimit`` runs out (``owner`` is that limit)."""

    def __init__(self, owner: "TimeLimit") -> None:
        super().__init__(f"time limit of {owner.seconds:g} s exceeded")
        self.owner = owner


def can_interrupt() -> bool:
    """Whether a time limit can be enforced here (main thread, SIGALRM and setitimer, a Python-level handler)."""
    return (hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) is not None)


def check_timeout(timeout: Any) -> float | None:
    """``timeout`` as seconds, or None for no limit (None or inf); TypeError / ValueError otherwise."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(f"timeout should be a number of seconds or None, got {type(timeout).__name__}.")
    seconds = float(timeout)
    if math.isnan(seconds) or seconds <= 0:
        raise ValueError(f"timeout should be a positive number of seconds (or None for no limit), got {timeout}.")
    return None if math.isinf(seconds) else seconds


class TimeLimit:
    """A budget of ``seconds`` of wall-clock time (None: no limit) for the calls made through ``call``."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = check_timeout(seconds)
        self.spent = 0.0  # seconds used by earlier calls
        self._active = False
        self._previous: Any = None
        self._outer: tuple[float, float] | None = None  # (due time, interval) of the timer found on entry
        self._deadline = math.inf
        self._deliver_later = False

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)``, interrupted by TimeLimitExceeded when the budget runs out."""
        start = time.monotonic()
        try:
            if self.seconds is not None and can_interrupt():
                self._start(start + max(self.seconds - self.spent, 0.0))
            return function(*args, **kwargs)
        finally:
            try:
                self._stop()
            except TimeLimitExceeded:  # the alarm fell due just as _stop was entered: finish the restore
                self._stop()
                raise
            finally:
                self.spent += time.monotonic() - start

    def _start(self, deadline: float) -> None:
        delay, interval = signal.setitimer(signal.ITIMER_REAL, 0)  # pause an outer timer before the swap
        self._outer = (time.monotonic() + delay, interval) if delay > 0 else None
        self._deliver_later = False  # an outer alarm with the default action fell due while we held SIGALRM
        self._deadline = deadline
        self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        self._active = True
        self._arm()

    def _stop(self) -> None:
        """Disarm and restore the previous handler and timer; idempotent."""
        if not self._active:
            return
        self._active = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)
        if self._deliver_later:
            signal.setitimer(signal.ITIMER_REAL, 1e-6, self._outer[1] if self._outer else 0.0)
        elif self._outer is not None:
            due, interval = self._outer
            signal.setitimer(signal.ITIMER_REAL, max(due - time.monotonic(), 1e-6), interval)

    def _arm(self, due: float | None = None) -> None:
        due = self._deadline if due is None else due
        if self._outer is not None:
            due = min(due, self._outer[0])
        signal.setitimer(signal.ITIMER_REAL, min(max(due - time.monotonic(), 1e-6), _LONGEST))

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if not self._active:
            return
        now = time.monotonic()
        outer = self._outer
        if outer is not None and outer[0] <= self._deadline and now >= outer[0] - _SLACK:
            # The timer found on entry is due first: pass its alarm on, as if we were not here.
            self._outer = (outer[0] + outer[1], outer[1]) if outer[1] > 0 else None
            signal.setitimer(signal.ITIMER_REAL, 0)
            try:
                if callable(self._previous):
                    self._previous(signum, frame)
                elif self._previous == signal.SIG_DFL:  # terminate: delivered once the previous handler is back
                    self._deliver_later = True
            finally:
                delay, interval = signal.setitimer(signal.ITIMER_REAL, 0)  # a timer the previous handler set
                if delay > 0:
                    self._outer = (time.monotonic() + delay, interval)
                self._arm()
            return
        if now < self._deadline - _SLACK:  # early (a clamped delay, or a stray signal): wait on
            self._arm()
            return
        self._arm(now + REPEAT)
        raise TimeLimitExceeded(self)
