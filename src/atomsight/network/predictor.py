"""A model ready to apply: its network's forward pass, its normalisation, its card and its detection settings.

:func:`load_predictor` loads a model folder once (a shipped model, an exported one or a
released one) and :meth:`Predictor.find` finds the atoms or columns of one image: resample
it from its sampling to the model's, normalise it locally as in training, predict the
probability maps (in tiles whose overlap covers the network's receptive field when the
image is large, so the tiles join without seams), detect, and map the positions back to the
image's pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from ..detections import Detections, DetectionSettings, Spread
from ..device import resolve_precision
from ..io.images import resample_to
from ..microscope.normalize import local_normalize
from ..models import CARD, WEIGHTS, resolve_model, verify_model
from ..models.card import SAVED_MODEL, file_sha256
from .augment import AUGMENT_MATCH_RADIUS, SYMMETRIES, apply_symmetry, invert_symmetry, position_spread
from .exported import load_exported
from .model import load_model, network_precision, with_precision
from .postprocess import detect
from .tiling import predict_tiled


class Found(NamedTuple):
    """What :meth:`Predictor.find` finds in one image.

    Attributes
    ----------
    probabilities : numpy.ndarray
        Class probabilities at the model's sampling, shape (h, w, K), indexed [x, y, class]
        (the average over :data:`SYMMETRIES` with augmentation).
    detections : Detections
        The post-processed detections, positions in pixels of the model's sampling.
    pixels : numpy.ndarray
        The detections' positions (row, col) in pixels of the image, shape (n, 2).
    spread : Spread or None
        With augmentation, the spread of each position [pixels of the image]; else None.
    """

    probabilities: np.ndarray
    detections: Detections
    pixels: np.ndarray
    spread: Spread | None


@dataclass(frozen=True)
class Predictor:
    """An exported model ready to apply.

    Attributes
    ----------
    normalize : callable
        Raw float32 images (1, h, w, C) to locally normalised images, as in training.
    probabilities : callable
        Normalised images (1, h, w, C), h and w multiples of ``card["size_multiple"]``, to
        class probabilities (1, h, w, K), background first.
    card : mapping
        The model card (``model.json``, :mod:`atomsight.models.card`): ``sampling``
        [Å/pixel], ``input_channels``, ``size_multiple``, ``receptive_field`` [pixels at the
        model's sampling], ``classes``, ``detection``.
    settings : DetectionSettings
        The card's detection settings (:meth:`atomsight.detections.DetectionSettings.from_card`).
    identity : mapping
        Which model this is, for the results' sidecars: ``name``, ``folder``, the ``file``
        that was loaded (``model.keras`` or ``saved_model``), the ``sha256`` of
        ``model.keras`` and the ``precision`` it computes in.
    """

    normalize: Callable[[np.ndarray], np.ndarray]
    probabilities: Callable[[np.ndarray], np.ndarray]
    card: Mapping[str, Any]
    settings: DetectionSettings
    identity: Mapping[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        """The object classes the model finds (background excluded)."""
        return list(self.card["classes"][1:])

    def find(self, image: np.ndarray, *, sampling: float, tile: int, augment: bool = False) -> Found:
        """Find the atoms or columns of one image.

        Parameters
        ----------
        image : numpy.ndarray
            Raw image, shape (H, W, C).
        sampling : float
            Its pixel size [Å/pixel].
        tile : int
            Largest side of the tiles [pixels at the model's sampling] (:func:`atomsight.network.tiling.predict_tiled`).
        augment : bool
            Average the maps over the 8 symmetries of :data:`SYMMETRIES` (8 times the cost)
            and measure the spread of each detection over them (see the module docstring).

        Returns
        -------
        Found
            Maps, detections, their positions in the image's pixels, and their spread
            with ``augment``.
        """
        model_sampling = self.card["sampling"]
        resampled, factor = resample_to(image, sampling, model_sampling)
        normalized = self.normalize(resampled[None])[0]
        if not augment:
            probabilities = self._maps(normalized, tile=tile)
            detections = detect(probabilities, self.settings, sampling=model_sampling)
            return Found(probabilities, detections, detections.positions / factor, None)
        total: np.ndarray | None = None
        found = []
        for symmetry in SYMMETRIES:
            maps = invert_symmetry(self._maps(apply_symmetry(normalized, symmetry), tile=tile), symmetry)
            total = maps if total is None else total + maps
            found.append(detect(maps, self.settings, sampling=model_sampling).positions)
        assert total is not None
        probabilities = total / len(SYMMETRIES)
        detections = detect(probabilities, self.settings, sampling=model_sampling)
        spread = position_spread(detections.positions, found, radius=AUGMENT_MATCH_RADIUS / self.card["sampling"])
        return Found(probabilities, detections, detections.positions / factor,
                     Spread(sigma=spread.sigma / factor, count=spread.count))

    def _maps(self, normalized: np.ndarray, *, tile: int) -> np.ndarray:
        """Predict the (h, w, K) maps of a normalised (h, w, C) image, in tiles when large."""
        return predict_tiled(self.probabilities, normalized, tile=tile, receptive_field=self.card["receptive_field"],
                             multiple=self.card["size_multiple"])


def load_predictor(model: str | Path, *, precision: str | None = "auto", trust_saved_model: bool = False) -> Predictor:
    """Load a model, by a shipped model's name or a model folder's path, as a :class:`Predictor`.

    Parameters
    ----------
    model : str or pathlib.Path
        A shipped model's name (``atomsight models`` lists them) or a model folder: an
        exported one (``results/models/<system>``: SavedModel, ``model.keras``, card) or a
        released one (``model.keras`` and card, as the shipped models are). The files
        loaded are checked against the SHA-256 its card lists. The network is its
        ``model.keras``, loaded under Keras' safe mode (no Python code of the file runs).
    precision : {None, "auto", "float32", "mixed_bfloat16"}
        None: the network as trained (its training precision). "auto" (the default): as trained
        where the hardware computes that precision, float32 where bfloat16 would be emulated
        (:func:`atomsight.device.resolve_precision`, logged). Otherwise the folder's
        ``model.keras`` computing in this Keras dtype policy
        (:func:`atomsight.network.model.with_precision`), e.g. a float32 network in
        bfloat16, 1.4 times as fast on a CPU with AVX-512 BF16 for a few detections
        changed near the threshold (BENCHMARKS.md).
    trust_saved_model : bool
        Run the folder's SavedModel instead. A SavedModel is a TensorFlow graph, which may
        read and write files and run any TensorFlow operation: only for a folder one made
        oneself or trusts; ignored with ``precision`` "float32" or "mixed_bfloat16".

    Returns
    -------
    Predictor
        The model.

    Raises
    ------
    atomsight.models.ModelNotFoundError
        If ``model`` is neither a model folder nor a shipped name.
    """
    folder = resolve_model(model)
    exported = trust_saved_model and precision in (None, "auto")
    if exported and not (folder / SAVED_MODEL).is_dir():
        raise FileNotFoundError(f"{folder / SAVED_MODEL}: no SavedModel to trust (the model folder holds"
                                f" {', '.join(sorted(p.name for p in folder.iterdir()))})")
    card = verify_model(folder, saved_model=exported)
    saved = load_exported(folder)[0] if exported else None
    network = None if exported else load_model(folder / WEIGHTS)
    loaded = SAVED_MODEL if exported else WEIGHTS
    wanted = "as exported"
    if exported:
        def forward(images: tf.Tensor) -> tf.Tensor:
            assert saved is not None
            return saved.probabilities(images)  # refers to ``saved``: its endpoints alone do not keep its variables
    else:
        assert network is not None
        trained = network_precision(network)
        wanted = trained if precision is None else resolve_precision(precision, trained=trained)
        runnable = network if wanted == trained else with_precision(network, wanted)
        # autograph=False: the lambda has no Python control flow to convert
        forward = tf.function(lambda images: runnable(images, training=False), autograph=False,
                              input_signature=[tf.TensorSpec((None, None, None, card["input_channels"]), tf.float32)])
    sigma = card["normalization_sigma_pixels"]

    def normalize(images: np.ndarray) -> np.ndarray:
        if saved is not None:
            return saved.normalize(tf.constant(images)).numpy()
        return images if sigma is None else local_normalize(tf.constant(images, tf.float32), sigma).numpy()

    def probabilities(images: np.ndarray) -> np.ndarray:
        return forward(tf.constant(images)).numpy()

    return Predictor(normalize=normalize, probabilities=probabilities, card=card,
                     settings=DetectionSettings.from_card(card, source=str(folder / CARD)),
                     identity={"name": card.get("name", folder.name), "folder": str(folder), "file": loaded,
                               "sha256": file_sha256(folder / WEIGHTS), "precision": wanted})


