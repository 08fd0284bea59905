"""Checks shared by the tests of commands that replace their files together (:mod:`atomsight.io.atomic`).

Imported by name (``from atomic_checks import ...``): pytest puts this folder on the path for the
conftest beside it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

needs_timers = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX timers")
"""Mark of the tests that interrupt a run with a timer's SIGINT."""


def temporaries(folder: Path) -> list[str]:
    """The names of the temporaries in ``folder`` (:func:`atomsight.io.atomic.temporary_name`)."""
    return sorted(p.name for p in Path(folder).iterdir() if ".tmp-" in p.name)


def contents(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` by name, with its bytes; asserts that no temporary is left there."""
    assert not temporaries(folder)
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


@contextlib.contextmanager
def interrupted_after(delay: float) -> Iterator[None]:
    """Send SIGINT ``delay`` seconds into the block and end the block there, as Ctrl-C would.

    The KeyboardInterrupt is swallowed. A block that finishes sooner waits for the signal, so that
    it lands here and not in whatever runs next.
    """
    previous = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    # Ctrl-C's KeyboardInterrupt even where SIGINT came ignored (a background job of a shell without job control)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, delay)
    try:
        yield
        time.sleep(max(0.0, start + delay + 0.01 - time.perf_counter()))
    except KeyboardInterrupt:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGINT, previous_int)
