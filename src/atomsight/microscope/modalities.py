"""How each imaging mode turns a structure's stored array into training images: the seam a new mode plugs into.

A system's ``modality`` (:func:`atomsight.config.modalities`) picks its :class:`Imaging`
here. For ``hrtem`` that is the random objective lens, camera and detector of
:class:`atomsight.microscope.Microscope` acting on the plane-wave exit wave that
:mod:`atomsight.simulation.modalities` stored. A new imaging mode adds its own microscope
module and an entry in :data:`IMAGING`; the tf.data pipeline
(:mod:`atomsight.microscope.data`), the label maps, the network and the post-processing
are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import Microscope, MicroscopeSettings


@dataclass(frozen=True)
class Imaging:
    """How one imaging mode renders images.

    Attributes
    ----------
    settings : callable
        ``settings(system)``: the random microscope's ranges and constants from a system's
        validated configuration section (with ``band_limit()``, ``channels``, ``image_size``,
        ``sampling``, ``scale_jitter`` and ``largest_field_of_view``).
    microscope : callable
        ``microscope(settings, wave_frequencies=, label_frequencies=, extent=)``: the batched
        TensorFlow renderer of images and labels.
    """

    settings: Callable[[Mapping[str, Any]], MicroscopeSettings]
    microscope: Callable[..., Microscope]


def _hrtem_settings(system: Mapping[str, Any]) -> MicroscopeSettings:
    return MicroscopeSettings.from_config(system["microscope"], system["energy"], system["training"]["curriculum"])


IMAGING: Mapping[str, Imaging] = {"hrtem": Imaging(settings=_hrtem_settings, microscope=Microscope)}
"""The imaging of each mode."""


def imaging(system: Mapping[str, Any]) -> Imaging:
    """Return the imaging of a system's validated configuration section (its ``modality``)."""
    return IMAGING[system["modality"]]
