"""Send a job's log records and standard error (progress bars included) to its log file."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""How a job's log lines look: time, level, logger, message."""


@contextlib.contextmanager
def log_to(path: str | Path, level: int = logging.INFO) -> Iterator[None]:
    """Within the block, write logging records and standard error to ``path``.

    Exceptions raised inside the block are logged with their traceback, then
    re-raised, so a failed job's log says why it failed.

    Parameters
    ----------
    path : str or pathlib.Path
        The log file (created with its parent folders, truncated).
    level : int
        Logging level of the root logger.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(level)
        try:
            with contextlib.redirect_stderr(stream):
                yield
        except BaseException:
            logging.getLogger(__name__).exception("job failed")
            raise
        finally:
            root.removeHandler(handler)
