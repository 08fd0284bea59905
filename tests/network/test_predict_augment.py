"""Test-time augmentation over the 8 symmetries of the square and the position spread it gives each detection."""

import csv

import numpy as np
import pytest

from atomsight.analysis.graphene_files import analyze_graphene_file
from atomsight.detections import COLUMNS, SPREAD_COLUMNS, DetectionSettings
from atomsight.network.augment import SYMMETRIES, apply_symmetry, invert_symmetry, position_spread
from atomsight.network.predict import predict_images
from atomsight.network.predictor import Predictor

SAMPLING = 0.12  # [Å/pixel], the stand-ins' model sampling; images are given at it, so nothing is resampled
CARD = {"sampling": SAMPLING, "size_multiple": 16, "input_channels": 1, "receptive_field": 0,
        "classes": ["background", "C"]}
PEAKS = DetectionSettings(method="peaks", threshold=0.5, min_distance=2, epsilon=0.995, t=0.1, h=0.04, label_sigma=0.3)
WIDTH = 2.5  # [pixels] of the Gaussian atoms; find_peaks' centre of mass is within 0.005 pixels for >= 2 pixels


def render(atoms, shape):
    """An image of unit Gaussians (sigma WIDTH pixels) at ``atoms`` (x, y) [Å], shape (H, W, 1)."""
    grid = np.stack(np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij"), -1) * SAMPLING
    d2 = ((grid[:, :, None] - atoms[None, None]) ** 2).sum(-1) / SAMPLING**2
    return np.exp(-d2 / (2 * WIDTH**2)).max(-1)[..., None].astype(np.float32)


def stand_in(shift=0):
    """A network whose object probability is the image itself, pixel by pixel (so exactly D4-equivariant),
    then moved by ``shift`` pixels along the first axis of its input (so not equivariant unless 0)."""

    def probabilities(batch):
        objects = np.roll(np.clip(batch[..., :1], 0, 1), shift, axis=1)
        return np.concatenate([1 - objects, objects], axis=-1)

    return Predictor(normalize=lambda batch: batch, probabilities=probabilities, card=CARD, settings=PEAKS)


def honeycomb(extent, margin=2.0):
    """Graphene atoms (x, y) [Å] (bond 1.42 Å) at least ``margin`` inside a rectangle of ``extent`` [Å]."""
    a = 1.42 * np.sqrt(3)
    cells = np.stack(np.meshgrid(np.arange(-2, 20), np.arange(-2, 20), indexing="ij"), -1).reshape(-1, 1, 2)
    lattice = np.array([[a, 0], [a / 2, a * np.sqrt(3) / 2]])
    basis = np.array([[0, 0], [a / 2, 1.42 / 2]])
    atoms = (cells @ lattice + basis).reshape(-1, 2) + 1.0
    return atoms[np.all((atoms >= margin) & (atoms <= np.array(extent) - margin), axis=1)]


ATOMS = np.array([[3.1, 4.0], [9.77, 3.3], [14.2, 9.15], [6.0, 10.4]])  # [Å], > 4 Å apart, in 18 x 13.2 Å
SHAPE = (150, 110)  # [pixels]: not square, so a quarter turn swaps the axes


@pytest.mark.parametrize("symmetry", SYMMETRIES)
def test_each_symmetry_is_undone_by_its_inverse(symmetry):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    assert apply_symmetry(array, symmetry).shape[:2] == ((3, 2) if symmetry[0] % 2 else (2, 3))
    np.testing.assert_array_equal(invert_symmetry(apply_symmetry(array, symmetry), symmetry), array)


def test_the_symmetries_are_the_eight_distinct_elements_of_d4():
    square = np.arange(9).reshape(3, 3)
    images = {apply_symmetry(square, s).tobytes() for s in SYMMETRIES}
    assert len(images) == 8
    # Closed under composition: a symmetry of a symmetry's image is again one of the eight.
    assert all(apply_symmetry(apply_symmetry(square, s), t).tobytes() in images for s in SYMMETRIES for t in SYMMETRIES)


@pytest.mark.parametrize("tile", [1024, 64])  # whole image, and tiles of 64 pixels
def test_an_equivariant_network_gives_the_same_maps_and_no_spread(tile):
    image = render(ATOMS, SHAPE)
    plain = stand_in().find(image, sampling=SAMPLING, tile=tile)
    augmented = stand_in().find(image, sampling=SAMPLING, tile=tile, augment=True)
    assert augmented.probabilities.shape == (*SHAPE, 2)  # not square, and kept its shape
    # The 8 maps are the same array moved back and forth: only float32 rounding of the mean of 8 equal values.
    np.testing.assert_allclose(augmented.probabilities, plain.probabilities, atol=1e-6)
    np.testing.assert_allclose(augmented.pixels, plain.pixels, atol=1e-6)
    assert plain.spread is None
    np.testing.assert_array_equal(augmented.spread.count, 8)
    np.testing.assert_allclose(augmented.spread.sigma, 0, atol=1e-6)
    # The atoms themselves, sorted by x: centre of mass within 0.005 pixels of a Gaussian's centre.
    np.testing.assert_allclose(np.sort(plain.pixels, 0) * SAMPLING, np.sort(ATOMS, 0), atol=0.01 * SAMPLING)


def test_a_shifting_network_spreads_each_position_by_the_eight_transformed_shifts():
    """The network moves its output by +1 pixel along its input's first axis. Transformed back, the shift
    of symmetry g is g^-1 (1, 0): (+-1, 0) and (0, +-1), each twice. Along x the 8 shifts are +1, +1, -1, -1,
    0, 0, 0, 0: mean 0 and standard deviation sqrt(4 / 8) = sqrt(0.5) pixels; the same along y."""
    image = render(ATOMS, SHAPE)
    plain = stand_in(shift=1).find(image, sampling=SAMPLING, tile=1024)
    np.testing.assert_allclose(np.sort(plain.pixels, 0), np.sort(ATOMS / SAMPLING + [1, 0], 0), atol=0.01)
    augmented = stand_in(shift=1).find(image, sampling=SAMPLING, tile=1024, augment=True)
    assert augmented.probabilities.shape == (*SHAPE, 2)
    # The average of the 8 moved maps is symmetric about each atom: its detections are at the atoms.
    np.testing.assert_allclose(np.sort(augmented.pixels, 0), np.sort(ATOMS / SAMPLING, 0), atol=0.01)
    np.testing.assert_array_equal(augmented.spread.count, 8)
    # Each of the 8 positions is within 0.005 pixels of atom + shift: the spread within 0.01 pixels.
    np.testing.assert_allclose(augmented.spread.sigma, np.sqrt(0.5), atol=0.01)


def read_rows(path):
    with open(path, newline="") as stream:
        reader = csv.DictReader(stream)
        return reader.fieldnames, list(reader)


def test_the_spread_reaches_the_csv_and_the_bond_length_error_bars(tmp_path):
    extent = (20.0, 16.0)  # [Å]
    atoms = honeycomb(extent)
    np.save(tmp_path / "sheet.npy", render(atoms, (round(extent[0] / SAMPLING), round(extent[1] / SAMPLING)))[..., 0])
    [plain] = predict_images(stand_in(shift=1), [tmp_path / "sheet.npy"], sampling=SAMPLING, out=tmp_path / "plain")
    assert read_rows(plain)[0] == list(COLUMNS)  # without augmentation the columns are absent
    [path] = predict_images(stand_in(shift=1), [tmp_path / "sheet.npy"], sampling=SAMPLING, out=tmp_path / "tta",
                            augment=True)
    header, rows = read_rows(path)
    assert header == [*COLUMNS, *SPREAD_COLUMNS]
    assert len(rows) == len(atoms)
    sigma = np.array([[float(r["sigma_x_A"]), float(r["sigma_y_A"])] for r in rows])
    s = np.sqrt(0.5) * SAMPLING  # [Å], as in the test above
    np.testing.assert_allclose(sigma, s, atol=0.01 * SAMPLING + 1e-4)  # 0.01 pixels, and the CSV's 1e-4 Å rounding
    assert {r["n_augment"] for r in rows} == {"8"}
    bonds = analyze_graphene_file(path, out=tmp_path / "analysis")[0]
    errors = np.array([float(r["length_error_A"]) for r in read_rows(bonds)[1]])
    assert len(errors) > len(atoms)  # a sheet: most atoms have three bonds, so 1.5 bonds per atom inside
    # Each atom's sigma is s along x and y: u_x^2 (2 s^2) + u_y^2 (2 s^2) = 2 s^2 for every bond direction u.
    np.testing.assert_allclose(errors, np.sqrt(2) * s, atol=2e-3 * SAMPLING + 1e-4)


def test_the_spread_counts_only_matched_positions_and_needs_two():
    reference = np.array([[10.0, 10.0], [30.0, 30.0], [50.0, 50.0]])
    predictions = [np.array([[10.5, 10.0], [30.0, 30.0], [70.0, 70.0]]),  # (70, 70) matches nothing
                   np.array([[9.5, 10.2]]),
                   np.array([[10.0, 9.8], [32.0, 30.0]])]  # (32, 30) is beyond the radius of 1.5 pixels
    spread = position_spread(reference, predictions, radius=1.5)
    np.testing.assert_array_equal(spread.count, [3, 1, 0])
    # First position: x 10.5, 9.5, 10.0 (mean 10, ddof 0: sqrt(0.5 / 3)); y 10, 10.2, 9.8 (sqrt(0.08 / 3)).
    np.testing.assert_allclose(spread.sigma[0], [np.sqrt(0.5 / 3), np.sqrt(0.08 / 3)], rtol=1e-12)
    assert np.isnan(spread.sigma[1:]).all()  # one position or none: no spread


def test_an_unknown_sigma_gives_nan_error_bars_only_for_its_bonds(tmp_path):
    path = tmp_path / "three.csv"
    path.write_text("x_A,y_A,sigma_x_A,sigma_y_A\n0,0,0.01,0.01\n1.42,0,0.01,0.01\n2.84,0,nan,nan\n")
    bonds = read_rows(analyze_graphene_file(path, out=tmp_path)[0])[1]
    errors = {(r["i"], r["j"]): float(r["length_error_A"]) for r in bonds}
    np.testing.assert_allclose(errors[("0", "1")], np.sqrt(2) * 0.01, atol=5e-5)  # CSV rounds to 1e-4 Å
    assert np.isnan(errors[("1", "2")])
