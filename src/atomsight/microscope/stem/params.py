"""The random STEM microscope of one training image: settings from the configuration, draws from a seed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from ..params import draw_dose, drawn_range
from .scan import extra_extent

UNIFORM = (
    "defocus", "astigmatism", "coma", "trefoil", "Cs", "C5", "semiangle", "source_size",
    "drift", "jitter", "flyback", "flyback_decay", "slow_scan", "slow_scan_period",
    "background", "background_variation", "background_length", "gain", "gain_spread", "read_noise",
)
"""Parameters drawn uniformly from their ranges (the configuration's keys and units)."""

ANGLES = ("astigmatism_angle", "coma_angle", "trefoil_angle", "drift_angle", "slow_scan_phase")
"""Angles drawn uniformly in [0, 2 pi) [rad]."""


@dataclass(frozen=True)
class StemSettings:
    """Ranges and constants of a system's random STEM microscope (lengths in Å).

    Attributes
    ----------
    energy : float
        Electron energy [eV].
    wavelength : float
        Relativistic electron wavelength [Å].
    sampling : float
        Nominal scan step [Å/pixel].
    image_size : int
        Lines per frame and pixels per line.
    scale_jitter : float
        Relative range of the scan step around ``sampling``.
    ranges : dict
        (low, high) of every parameter in :data:`UNIFORM` (units of the configuration:
        ``semiangle`` [mrad], ``flyback_decay`` [pixels], ``slow_scan_period`` [lines]), of
        ``rotation`` [rad] and of ``dose`` [e/Å^2]; ``dose`` is None for noise-free images.
    normalization_sigma : float or None
        Width of the local normalisation window [Å].
    augment : bool
        Whether random rotations by 90 degrees and mirroring are applied.
    curriculum_start : dict
        Starting (low, high) of the parameters a curriculum widens (see
        :class:`atomsight.microscope.MicroscopeSettings`).
    """

    energy: float
    wavelength: float
    sampling: float
    image_size: int
    scale_jitter: float
    ranges: dict[str, tuple[float, float] | None]
    normalization_sigma: float | None
    augment: bool
    curriculum_start: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls, microscope: Mapping[str, Any], energy: float, curriculum: Mapping[str, Any] | None = None
    ) -> StemSettings:
        """Build the settings from a validated ``stem_microscope`` section and the energy [eV]."""
        from abtem.core.energy import energy2wavelength  # here, so that applying a model does not import abTEM

        ranges: dict[str, tuple[float, float] | None] = {key: tuple(microscope[key]) for key in UNIFORM}
        low, high = microscope["rotation"]
        ranges["rotation"] = (math.radians(low), math.radians(high))
        ranges["dose"] = tuple(microscope["dose"]) if microscope["dose"] else None
        return cls(
            energy=float(energy),
            wavelength=float(energy2wavelength(energy)),
            sampling=float(microscope["sampling"]),
            image_size=int(microscope["image_size"]),
            scale_jitter=float(microscope["scale_jitter"]),
            ranges=ranges,
            normalization_sigma=microscope["normalization_sigma"],
            augment=bool(microscope["augment"]),
            curriculum_start={key: tuple(value) for key, value in ((curriculum or {}).get("start") or {}).items()},
        )

    def bounds(self, name: str) -> tuple[float, float]:
        """(low, high) of the drawn parameter ``name``; a KeyError naming it if it has no range (dose None)."""
        value = self.ranges[name]
        if value is None:
            raise KeyError(f"stem microscope.{name} has no range: the images are noise-free")
        return value

    @property
    def channels(self) -> int:
        """Images per element: one ADF image."""
        return 1

    def band_limit(self) -> float:
        """Return the largest spatial frequency of the object response that reaches an image [1/Å].

        Twice the largest semi-angle's frequency: the probe intensity's transfer is the
        aperture's autocorrelation. No cut for the scan's sampling: a scan samples the
        probe-blurred response at points, so what lies above its Nyquist frequency aliases
        in a real image too.
        """
        return 2 * self.bounds("semiangle")[1] * 1e-3 / self.wavelength

    @property
    def largest_field_of_view(self) -> float:
        """Side of the largest square the scan of one image can cover [Å].

        The frame at the coarsest step, rotated by the worst angle of the rotation range
        (its bounding square grows by |cos| + |sin|), plus how far the faults can move it.
        """
        low, high = self.bounds("rotation")
        angles = np.linspace(low, high, 721)
        growth = float(np.max(np.abs(np.cos(angles)) + np.abs(np.sin(angles))))
        side = self.image_size * self.sampling * (1 + self.scale_jitter) * growth
        return side + extra_extent({name: self.bounds(name) for name in ("drift", "flyback", "slow_scan", "jitter")})


def draw(
    seed: tf.Tensor, settings: StemSettings, extent: tf.Tensor, progress: tf.Tensor | None = None
) -> dict[str, tf.Tensor]:
    """Draw the STEM microscope of one image from a stateless seed.

    Parameters
    ----------
    seed : tf.Tensor
        int64 seed of shape (2,), e.g. ``(training seed, element index)``.
    settings : StemSettings
        The ranges.
    extent : tf.Tensor
        Periodic extent (x, y) of the object response [Å], shape (2,).
    progress : tf.Tensor, optional
        Progress of a curriculum in [0, 1] (see :func:`atomsight.microscope.draw`).

    Returns
    -------
    dict of tf.Tensor
        Scalars: the :data:`UNIFORM` parameters; the :data:`ANGLES`; ``rotation`` [rad];
        ``dose`` log-uniform [e/Å^2] (0 when noise is off); the scan step ``sampling``
        [Å/pixel]; ``shift_x``, ``shift_y`` uniform in the extent [Å]; the ``dihedral``
        transform 0..7 (0 when augmentation is off); and a ``noise_seed`` of shape (2,)
        (jitter, background and detector noise).
    """
    draws_seed, noise_seed = tf.unstack(tf.random.split(seed, 2))
    names = [*UNIFORM, *ANGLES, "rotation", "dose", "sampling", "shift_x", "shift_y", "dihedral"]
    u = dict(zip(names, tf.unstack(tf.random.stateless_uniform([len(names)], draws_seed, dtype=tf.float32))))
    values = {}
    for name in (*UNIFORM, "rotation"):
        low, high = drawn_range(settings, name, progress)
        values[name] = low + u[name] * (high - low)
    for name in ANGLES:
        values[name] = 2 * math.pi * u[name]
    values["dose"] = draw_dose(settings, u["dose"], progress)
    values["sampling"] = settings.sampling * (1 + settings.scale_jitter * (2 * u["sampling"] - 1))
    extent = tf.cast(extent, tf.float32)
    values["shift_x"] = u["shift_x"] * extent[0]
    values["shift_y"] = u["shift_y"] * extent[1]
    values["dihedral"] = tf.cast(tf.minimum(u["dihedral"] * 8, 7), tf.int32) if settings.augment else tf.constant(0)
    values["noise_seed"] = noise_seed
    return values


def fixed_parameters(settings: StemSettings, **values: float) -> dict[str, tf.Tensor]:
    """Return a parameter set with every parameter at the low end of its range, overridden by ``values``.

    Meant for tests and previews of one chosen microscope, e.g.
    ``fixed_parameters(settings, defocus=-30.0, semiangle=25.0, dose=0.0)``.
    """
    params: dict[str, Any] = {name: settings.bounds(name)[0] for name in (*UNIFORM, "rotation")}
    params.update({name: 0.0 for name in ANGLES})
    params.update(dose=0.0, sampling=settings.sampling, shift_x=0.0, shift_y=0.0, dihedral=0)
    params.update(values)
    tensors = {k: tf.constant(v, tf.int32 if k == "dihedral" else tf.float32) for k, v in params.items()}
    tensors["noise_seed"] = tf.constant([0, 0], tf.int64)
    return tensors
