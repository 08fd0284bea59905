"""The overlay: a round scale bar near a fifth of the image, markers sized to atoms."""

import numpy as np
import pytest

from atomsight.core.scale_bar import scale_bar_length
from atomsight.detections import Detections
from atomsight.network.overlay import plot_overlay


@pytest.mark.parametrize("width, bar", [(3.0, 0.5), (15.36, 2.0), (30.7, 5.0), (50.0, 10.0), (245.76, 20.0)])
def test_the_scale_bar_is_a_round_length_within_a_fifth_of_the_width(width, bar):
    assert scale_bar_length(width) == bar


def test_an_overlay_is_written(tmp_path):
    image = np.random.default_rng(0).normal(size=(64, 80, 1))
    detections = Detections(positions=np.array([[10.0, 10.0]]), classes=np.array([0]),
                            probabilities=np.array([0.9]), class_probabilities=np.array([[0.9]]))
    plot_overlay(tmp_path / "o.png", image, np.array([[10.0, 10.0]]), detections, sampling=0.12, classes=["atom"],
                 title="image")
    assert (tmp_path / "o.png").stat().st_size > 0
