"""The settings that turn probability maps into detections: one typed record, read from the configuration or a card.

Their defaults live in the configuration schema alone (``systems.<name>.detection``); this
record carries them from a validated configuration to the network's post-processing
(:func:`atomsight.network.postprocess.detect`), to the evaluation and the grid, into the
model card (:meth:`DetectionSettings.to_card`) and back out of it when a model is applied
(:meth:`DetectionSettings.from_card`), and into every results table's sidecar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

METHODS = ("auto", "peaks", "watershed")
"""Post-processing methods: "peaks" (maxima of the object probability), "watershed" (paper section
2.5); "auto" is "peaks" for one object class and "watershed" for several."""

KEYS = ("method", "threshold", "min_distance", "epsilon", "t", "h")
"""Keys of the configuration's ``detection`` section (and of a card's ``detection`` entry, with ``label_sigma``)."""


class DetectionSettingsError(ValueError):
    """Detection settings that are missing or out of range; the message names the key and the source."""


@dataclass(frozen=True)
class DetectionSettings:
    """How a probability map becomes detections (see :func:`atomsight.network.postprocess.detect`).

    Attributes
    ----------
    method : {"auto", "peaks", "watershed"}
        The post-processing method (:data:`METHODS`).
    threshold : float
        Least peak object probability of a detection ("peaks"), in (0, 1).
    min_distance : int
        Of two maxima at most this many pixels apart, only the higher is kept ("peaks")
        [pixels of the map].
    epsilon : float
        Upper limit of the background in a watershed segment ("watershed"), in (0, 1).
    t : float
        Least ratio of a segment's object to background probability (eq. 8, "watershed").
    h : float
        Least depth of a background minimum that seeds a segment ("watershed").
    label_sigma : float
        Width of the label Gaussians the network was trained on [Å]; it sets the smoothing
        of the background before its minima are sought ("watershed").
    """

    method: str
    threshold: float
    min_distance: int
    epsilon: float
    t: float
    h: float
    label_sigma: float

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise DetectionSettingsError(f"detection.method: {self.method!r}, expected one of {METHODS}")
        for key, low, high in (("threshold", 0, 1), ("epsilon", 0, 1)):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and low < value < high):
                raise DetectionSettingsError(f"detection.{key}: {value!r}, expected a number in ({low}, {high})")
        for key in ("t", "h"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise DetectionSettingsError(f"detection.{key}: {value!r}, expected a finite number >= 0")
        if isinstance(self.min_distance, bool) or not isinstance(self.min_distance, int) or self.min_distance < 1:
            raise DetectionSettingsError(f"detection.min_distance: {self.min_distance!r}, expected an integer >= 1"
                                         " [pixels]")
        sigma = self.label_sigma
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
            raise DetectionSettingsError(f"label_sigma: {self.label_sigma!r}, expected a positive number [Å]")

    @classmethod
    def from_config(cls, system: Mapping[str, Any]) -> DetectionSettings:
        """Return the settings of a system's validated configuration section (``detection`` and ``labels.sigma``)."""
        detection = system["detection"]
        return cls(**{key: detection[key] for key in KEYS}, label_sigma=float(system["labels"]["sigma"]))

    @classmethod
    def from_card(cls, card: Mapping[str, Any], *, source: str = "model card") -> DetectionSettings:
        """Return the settings a model card records (its ``detection`` entry, as :meth:`to_card` wrote it).

        Raises
        ------
        DetectionSettingsError
            If the entry or one of its keys is missing or out of range; the message names ``source``.
        """
        entry = card.get("detection")
        if not isinstance(entry, Mapping):
            raise DetectionSettingsError(f"{source}: no 'detection' entry (expected a mapping of {', '.join(KEYS)},"
                                         " label_sigma); was the model released by an older atomsight?")
        missing = [key for key in (*KEYS, "label_sigma") if key not in entry]
        if missing:
            raise DetectionSettingsError(f"{source}: detection lacks {', '.join(missing)}")
        try:
            return cls(**{key: entry[key] for key in (*KEYS, "label_sigma")})
        except DetectionSettingsError as error:
            raise DetectionSettingsError(f"{source}: {error}") from None

    def to_card(self) -> dict[str, Any]:
        """Return the settings as a card's ``detection`` entry (and a results sidecar's)."""
        return asdict(self)

    def label_sigma_pixels(self, sampling: float) -> float:
        """Return the label width in pixels of a map of pixel size ``sampling`` [Å/pixel]."""
        return self.label_sigma / sampling
