"""The random microscope of one training image: settings from the configuration, draws from a seed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf

ENVELOPE_FLOOR = 1e-4
"""Frequencies where the temporal envelope (at the smallest focal spread) is below this are cut."""

UNIFORM = ("defocus", "Cs", "C5", "astigmatism", "focal_spread", "blur", "mtf_c1", "mtf_c2", "mtf_c3")
"""Parameters drawn uniformly from their ranges; the others are drawn as documented in :func:`draw`."""


@dataclass(frozen=True)
class MicroscopeSettings:
    """Ranges and constants of a system's random microscope (all lengths in Å).

    Attributes
    ----------
    energy : float
        Electron energy [eV].
    wavelength : float
        Relativistic electron wavelength [Å].
    sampling : float
        Nominal image sampling [Å/pixel].
    image_size : int
        Side of the square images [pixels].
    scale_jitter : float
        Relative range of the image sampling around ``sampling``.
    ranges : dict
        (low, high) of every parameter in :data:`UNIFORM` and of ``dose`` [e/Å^2];
        ``dose`` is None for noise-free images; the ``mtf_*`` ranges are unused
        placeholders when ``mtf`` is False.
    defocus_offsets : tuple of float
        Defocus offset of each image of a focal series [Å], abTEM's defocus = -C10.
    aperture : float or None
        Objective aperture semi-angle [mrad].
    mtf : bool
        Whether the detector MTF is applied.
    normalization_sigma : float or None
        Width of the local normalisation window [Å].
    augment : bool
        Whether random rotations by 90 degrees and mirroring are applied.
    curriculum_start : dict
        Starting (low, high) of the parameters a curriculum widens (empty: none); a
        stream's ranges go linearly from these to :attr:`ranges` (``dose`` on a log
        scale) as its progress goes from 0 to 1.
    """

    energy: float
    wavelength: float
    sampling: float
    image_size: int
    scale_jitter: float
    ranges: dict[str, tuple[float, float] | None]
    defocus_offsets: tuple[float, ...]
    aperture: float | None
    mtf: bool
    normalization_sigma: float | None
    augment: bool
    curriculum_start: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls, microscope: Mapping[str, Any], energy: float, curriculum: Mapping[str, Any] | None = None
    ) -> MicroscopeSettings:
        """Build the settings from a system's validated ``microscope`` section and energy [eV].

        ``curriculum`` is the system's ``training.curriculum`` section, whose ``start``
        ranges the training stream begins with (None or no ``start``: none).
        """
        from abtem.core.energy import energy2wavelength  # here, so that applying a model does not import abTEM

        mtf = microscope["mtf"]
        ranges: dict[str, tuple[float, float] | None] = {
            key: tuple(microscope[key]) for key in ("defocus", "Cs", "C5", "astigmatism", "focal_spread", "blur")
        }
        for name in ("c1", "c2", "c3"):
            ranges[f"mtf_{name}"] = tuple(mtf[name]) if mtf else (1.0, 1.0)
        ranges["dose"] = tuple(microscope["dose"]) if microscope["dose"] else None
        return cls(
            energy=float(energy),
            wavelength=float(energy2wavelength(energy)),
            sampling=float(microscope["sampling"]),
            image_size=int(microscope["image_size"]),
            scale_jitter=float(microscope["scale_jitter"]),
            ranges=ranges,
            defocus_offsets=tuple(float(d) for d in microscope["defocus_offsets"]),
            aperture=microscope["aperture"],
            mtf=mtf is not None,
            normalization_sigma=microscope["normalization_sigma"],
            augment=bool(microscope["augment"]),
            curriculum_start={key: tuple(value) for key, value in ((curriculum or {}).get("start") or {}).items()},
        )

    @property
    def largest_field_of_view(self) -> float:
        """Side of the largest image that can be drawn [Å] (see :func:`atomsight.config.largest_field_of_view`)."""
        from ..config import largest_field_of_view  # here, so that applying a model does not import jsonschema

        return largest_field_of_view(self.image_size, self.sampling, self.scale_jitter)

    def bounds(self, name: str) -> tuple[float, float]:
        """(low, high) of the drawn parameter ``name``; a KeyError naming it if it has no range (dose None)."""
        value = self.ranges[name]
        if value is None:
            raise KeyError(f"microscope.{name} has no range: the images are noise-free")
        return value

    @property
    def channels(self) -> int:
        """Images per element (the length of a focal series)."""
        return len(self.defocus_offsets)

    def band_limit(self) -> float:
        """Return the largest spatial frequency of the exit wave that reaches an image [1/Å].

        It is the smallest of: where the temporal envelope at the smallest focal spread
        falls below :data:`ENVELOPE_FLOOR`; the objective aperture; and a quarter of the
        coarsest image sampling's inverse, so that the intensity (whose band is twice
        the wave's) is sampled without aliasing.
        """
        limits = [1 / (4 * self.sampling * (1 + self.scale_jitter))]
        smallest_spread = self.bounds("focal_spread")[0]
        if smallest_spread > 0:
            # exp(-(pi lambda spread k^2 / 2)^2) = floor
            spread = math.pi * self.wavelength * smallest_spread
            limits.append(math.sqrt(2 * math.sqrt(-math.log(ENVELOPE_FLOOR)) / spread))
        if self.aperture is not None:
            limits.append(self.aperture * 1e-3 / self.wavelength)
        return min(limits)


def drawn_range(settings: Any, name: str, progress: tf.Tensor | None) -> tuple[Any, Any]:
    """(low, high) of a parameter at a curriculum's progress in [0, 1] (None: the full range).

    ``settings`` is any mode's settings with ``bounds(name)`` and ``curriculum_start``.
    """
    full = settings.bounds(name)
    start = settings.curriculum_start.get(name)
    if progress is None or start is None:
        return full
    return tuple(a + progress * (b - a) for a, b in zip(start, full))


def draw_dose(settings: Any, u: tf.Tensor, progress: tf.Tensor | None) -> tf.Tensor:
    """Return the dose [e/Å^2] of a uniform variate ``u``: log-uniform in ``dose``'s range at a curriculum's progress.

    0 when the images are noise-free (``ranges["dose"]`` None); a curriculum's start moves on a log scale.
    """
    if settings.ranges["dose"] is None:
        return tf.constant(0.0)
    start = settings.curriculum_start.get("dose")
    low, high = (math.log(v) for v in settings.ranges["dose"])
    if progress is not None and start is not None:
        low, high = (math.log(a) + progress * (b - math.log(a)) for a, b in zip(start, (low, high)))
    return tf.exp(low + u * (high - low))


def draw(
    seed: tf.Tensor, settings: MicroscopeSettings, extent: tf.Tensor, progress: tf.Tensor | None = None
) -> dict[str, tf.Tensor]:
    """Draw the microscope of one image from a stateless seed.

    Parameters
    ----------
    seed : tf.Tensor
        int64 seed of shape (2,), e.g. ``(training seed, element index)``.
    settings : MicroscopeSettings
        The ranges.
    extent : tf.Tensor
        Periodic extent (x, y) of the exit wave [Å], shape (2,).
    progress : tf.Tensor, optional
        Progress of a curriculum in [0, 1] (float32 scalar): the ranges of the
        parameters in ``settings.curriculum_start`` lie that far from their start to
        their full ranges (``dose`` in log). None: the full ranges.

    Returns
    -------
    dict of tf.Tensor
        Scalars: the :data:`UNIFORM` parameters; ``astigmatism_angle`` uniform in
        [0, 2 pi) [rad]; ``dose`` log-uniform [e/Å^2] (0 when noise is off); the image
        ``sampling`` [Å/pixel]; ``shift_x``, ``shift_y`` uniform in the extent [Å]; the
        ``dihedral`` transform 0..7 (0 when augmentation is off); and a ``noise_seed``
        of shape (2,).
    """
    draws_seed, noise_seed = tf.unstack(tf.random.split(seed, 2))
    names = [*UNIFORM, "astigmatism_angle", "dose", "sampling", "shift_x", "shift_y", "dihedral"]
    u = dict(zip(names, tf.unstack(tf.random.stateless_uniform([len(names)], draws_seed, dtype=tf.float32))))
    values = {}
    for name in UNIFORM:
        low, high = drawn_range(settings, name, progress)
        values[name] = low + u[name] * (high - low)
    values["astigmatism_angle"] = 2 * math.pi * u["astigmatism_angle"]
    values["dose"] = draw_dose(settings, u["dose"], progress)
    values["sampling"] = settings.sampling * (1 + settings.scale_jitter * (2 * u["sampling"] - 1))
    extent = tf.cast(extent, tf.float32)
    values["shift_x"] = u["shift_x"] * extent[0]
    values["shift_y"] = u["shift_y"] * extent[1]
    values["dihedral"] = tf.cast(tf.minimum(u["dihedral"] * 8, 7), tf.int32) if settings.augment else tf.constant(0)
    values["noise_seed"] = noise_seed
    return values


def fixed_parameters(settings: MicroscopeSettings, **values: float) -> dict[str, tf.Tensor]:
    """Return a parameter set with every parameter at the low end of its range, overridden by ``values``.

    Meant for tests and previews of one chosen microscope, e.g.
    ``fixed_parameters(settings, defocus=-50.0, dose=0.0)``.
    """
    params: dict[str, Any] = {name: settings.bounds(name)[0] for name in UNIFORM}
    params.update(astigmatism_angle=0.0, dose=0.0, sampling=settings.sampling, shift_x=0.0, shift_y=0.0, dihedral=0)
    params.update(values)
    tensors = {k: tf.constant(v, tf.int32 if k == "dihedral" else tf.float32) for k, v in params.items()}
    tensors["noise_seed"] = tf.constant([0, 0], tf.int64)
    return tensors


def stack_parameters(parameters: Sequence[Mapping[str, tf.Tensor]]) -> dict[str, tf.Tensor]:
    """Stack per-image parameter dictionaries into one batch (what ``Dataset.batch`` does)."""
    return {key: tf.stack([p[key] for p in parameters]) for key in parameters[0]}
