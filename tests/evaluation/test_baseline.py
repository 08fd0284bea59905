"""The classical baseline: smoothing, local maxima, centre of mass, settings chosen on images of known atoms."""

from dataclasses import replace

import numpy as np
import pytest

from atomsight.core.matching import match
from atomsight.evaluation.baseline import BaselineParameters, BaselineSearch, find_atoms, fit_baseline
from atomsight.evaluation.evaluate import inside_margin
from atomsight.evaluation.metrics import aggregate, scores_of

SAMPLING = 0.12
"""Pixel size of the test images [Å/pixel], the paper's."""

SIZE = 96
"""Side of the test images [pixels]: 11.5 Å, about 40 atoms of graphene."""

SEARCH = BaselineSearch(smoothing=(0.1, 0.3), min_distance=(0.6, 1.0), threshold=(0.0, 1.0), refine_radius=(0.0, 0.3))


def honeycomb(seed: int) -> np.ndarray:
    """Atoms of a randomly rotated and shifted graphene lattice (bond 1.42 Å) covering the image [pixels]."""
    rng = np.random.default_rng(seed)
    a = 1.42 * np.sqrt(3)
    cells = np.arange(-12, 13)
    i, j = (v.ravel() for v in np.meshgrid(cells, cells))
    corners = np.stack([i * a + j * a / 2, j * a * np.sqrt(3) / 2], axis=1)
    atoms = np.concatenate([corners, corners + [a / 2, 1.42 / 2]])
    angle = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pixels = (atoms @ rotation.T + rng.uniform(0, a, 2)) / SAMPLING
    return pixels[np.all((pixels > -5) & (pixels < SIZE + 4), axis=1)]


def image_of(atoms: np.ndarray, sign: float) -> np.ndarray:
    """A clean image (SIZE, SIZE, 1): 1 plus ``sign`` times Gaussians of 0.3 Å at the atoms."""
    grid = np.arange(SIZE)
    d2 = (grid[None, :, None] - atoms[:, 0, None, None]) ** 2 + (grid[None, None, :] - atoms[:, 1, None, None]) ** 2
    bumps = np.exp(-d2 / (2 * (0.3 / SAMPLING) ** 2)).sum(axis=0)
    return (1 + sign * 0.1 * bumps)[..., None]


def scorer(truths):
    """score(i, found) against truth i: matches within 0.5 Å, nothing within 1 Å of the edge counted."""
    margin = 1.0 / SAMPLING

    def score(i, found):
        truth = truths[i][inside_margin(truths[i], SIZE, margin)]
        found = found[inside_margin(found, SIZE, margin)]
        return scores_of(match(truth * SAMPLING, found * SAMPLING, 0.5), len(truth), len(found))

    return score


@pytest.mark.parametrize(("sign", "polarity"), [(1.0, "bright"), (-1.0, "dark")])
def test_polarity_is_chosen_on_training_images_and_finds_every_atom(sign, polarity):
    training = [honeycomb(seed) for seed in range(3)]
    parameters, fitted = fit_baseline([image_of(a, sign) for a in training], [SAMPLING] * 3, scorer(training), SEARCH)
    # An atom a fraction of a pixel from the 1 Å margin can be counted on one side of it and found on the
    # other, so F1 may miss 1 by an atom: 0.95 allows one of the ~35 atoms of an image.
    assert parameters.polarity == polarity and fitted.f1 >= 0.95
    test = honeycomb(10)
    found = find_atoms(image_of(test, sign), parameters, sampling=SAMPLING)
    scores = scorer([test])(0, found)
    assert scores.f1 >= 0.95 and scores.true_positives > 30
    # Whole-pixel maxima are off by sqrt(2 / 12) pixel = 0.049 Å rms (offsets uniform within a pixel), so the
    # fit must choose the centre of mass over the disc of 0.3 Å. That still leans towards the brightest pixel
    # (measured: 0.006-0.010 Å rms over ten lattices); 0.02 Å passes it and fails whole pixels.
    assert parameters.refine_radius == 0.3
    assert scores.rmse < 0.02


def test_the_wrong_polarity_finds_the_hexagon_centres_instead():
    # The maxima of the negated honeycomb are its hexagon centres, 1.42 Å from every atom, far beyond
    # the 0.5 Å matching radius; only maxima that land near an atom by chance at the edges could match.
    atoms = honeycomb(10)
    parameters = BaselineParameters(polarity="dark", smoothing=0.1, min_distance=0.6, threshold=0.0, refine_radius=0.3)
    scores = scorer([atoms])(0, find_atoms(image_of(atoms, 1.0), parameters, sampling=SAMPLING))
    assert scores.f1 < 0.1 and scores.false_positives > 10


def test_noise_calls_for_smoothing():
    # With noise of std 0.1 per pixel against peaks of 0.1, one-pixel maxima are mostly noise:
    # the fit picks the wider smoothing, which beats the narrow one on the same images.
    rng = np.random.default_rng(0)
    training = [honeycomb(seed) for seed in range(3)]
    images = [image_of(a, 1.0) + rng.normal(0, 0.1, (SIZE, SIZE, 1)) for a in training]
    parameters, fitted = fit_baseline(images, [SAMPLING] * 3, scorer(training), SEARCH)
    assert parameters.smoothing == 0.3 and parameters.polarity == "bright"
    narrow = replace(parameters, smoothing=0.1)
    narrow_scores = aggregate([scorer(training)(i, find_atoms(image, narrow, sampling=SAMPLING))
                               for i, image in enumerate(images)])
    assert fitted.f1 > narrow_scores.f1


def test_every_image_of_a_focal_series_is_a_candidate():
    # Channel 0 holds only noise, channel 1 the atoms: the fit must search channel 1.
    rng = np.random.default_rng(1)
    training = [honeycomb(seed) for seed in range(2)]
    images = [np.concatenate([rng.normal(1, 0.1, (SIZE, SIZE, 1)), image_of(a, 1.0)], axis=-1) for a in training]
    search = BaselineSearch(smoothing=(0.1,), min_distance=(0.6,), threshold=(0.0,), refine_radius=(0.3,),
                            channels=(0, 1))
    parameters, fitted = fit_baseline(images, [SAMPLING] * 2, scorer(training), search)
    assert parameters.channel == 1 and fitted.f1 >= 0.95


def test_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="polarity 'grey'"):
        BaselineParameters(polarity="grey", smoothing=0.1, min_distance=0.6, threshold=0.0, refine_radius=0.3)
    with pytest.raises(ValueError, match="one sampling per image"):
        fit_baseline([image_of(honeycomb(0), 1.0)], [], scorer([]), SEARCH)
