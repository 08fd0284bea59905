"""The defocus convention, written down once: abTEM's ``defocus`` is ``-C10``; people read C10.

C10 is the coefficient of the defocus term of the aberration function,
``chi = 2 pi / lambda * (alpha^2 / 2 * C10 + ...)``, in Å: positive C10 is overfocus,
negative C10 underfocus. abTEM (and the configuration's ``microscope.defocus`` keys, which
follow it) uses ``defocus = -C10``, so positive defocus is underfocus. PyQSTEM and Madsen et
al. (2018) write ``a20 = +C10`` as "defocus", so a value from the paper enters the
configuration with its sign flipped. Everything shown to a person (cards, tables, plots,
logs) says C10, through :func:`format_c10`; everything computed converts here.
"""

from __future__ import annotations

from typing import TypeVar

Number = TypeVar("Number")

OVERFOCUS = "C10 > 0 is overfocus"
"""The sign of C10 in four words, for the lines that show one."""

CONVENTION = "C10 [Å]: positive is overfocus, negative underfocus; abTEM's defocus = -C10"
"""The one sentence that names the sign, for cards and file headers."""


def c10_from_defocus(defocus: Number) -> Number:
    """Return C10 [Å] of abTEM's ``defocus`` [Å]: a float, an array or a tensor.

    ``0.0 - defocus`` rather than ``-defocus``, so that a zero defocus gives C10 = 0.0, not -0.0.
    """
    return 0.0 - defocus  # type: ignore[operator,return-value]


def defocus_from_c10(c10: Number) -> Number:
    """Return abTEM's defocus [Å] of ``c10`` [Å] (the inverse of :func:`c10_from_defocus`)."""
    return 0.0 - c10  # type: ignore[operator,return-value]


def c10_range(defocus: tuple[float, float] | list[float]) -> list[float]:
    """Return the (low, high) C10 range [Å] of a (low, high) range of abTEM's defocus [Å]."""
    return sorted(float(c10_from_defocus(d)) for d in defocus)


def format_c10(c10: float, *, digits: int = 0) -> str:
    """Return ``"C10 = +60 Å"``: C10 [Å] with its sign, for plots, tables and log lines."""
    return f"C10 = {float(c10) + 0.0:+.{digits}f} Å"


def format_c10_span(low: float, high: float, *, digits: int = 0) -> str:
    """Return ``"C10 = -100 to +100 Å"`` for a C10 range [Å]."""
    return f"C10 = {float(low) + 0.0:+.{digits}f} to {float(high) + 0.0:+.{digits}f} Å"
