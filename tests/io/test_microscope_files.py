"""Microscope files through RosettaSciIO: calibration against the files' own metadata, round trips, bad input."""

import csv
import warnings

import numpy as np
import pytest
import tifffile
from rsciio import digitalmicrograph, emd, tiff

from atomsight.images import file_sampling, read_frames, read_image
from atomsight.io.microscope_files import angstrom_per_pixel, read_microscope_file, resolve_sampling
from atomsight.predict import Predictor, predict_images

RNG = np.random.default_rng(11)


def signal(data, *, units, scale):
    """An RosettaSciIO signal dictionary: image axes (x, y) of ``scale`` ``units``/pixel, a leading frame axis if 3D."""
    axes = [{"name": n, "size": s, "scale": scale, "offset": 0.0, "units": units, "navigate": False}
            for n, s in zip("xy", data.shape[-2:])]
    if data.ndim == 3:
        axes.insert(0, {"name": "time", "size": data.shape[0], "scale": 1.0, "offset": 0.0, "units": "s",
                        "navigate": True})
    return {"data": data, "axes": axes, "metadata": {"General": {"title": "synthetic"}, "Signal": {}},
            "original_metadata": {}}


# --- real files written by microscopes -----------------------------------------------------------------------

def test_dm3_pixel_size_is_its_calibration_tag_in_angstrom(temul_files):
    path = temul_files["dm3"]
    tags = digitalmicrograph.file_reader(str(path), lazy=True)[0]["original_metadata"]
    dimensions = tags["ImageList"]["TagGroup0"]["ImageData"]["Calibrations"]["Dimension"]
    scales = {dimensions[k]["Units"]: dimensions[k]["Scale"] for k in ("TagGroup0", "TagGroup1")}
    assert scales == {"nm": 0.0126953125}  # both axes in nm, square pixels (13/1024 nm, a 13 nm field on 1024 px)
    image = read_microscope_file(path)
    assert (image.unit, image.n_frames, image.frames.shape) == ("nm", 1, (1, 1024, 1024))
    # 1 nm = 10 Å, typed here; float multiplication by 10 is exact to the last bit or two.
    assert image.sampling == pytest.approx(0.0126953125 * 10, rel=1e-14)
    assert image.frame(0).dtype == np.float32 and image.frame(0).shape == (1024, 1024)


def test_velox_emd_pixel_size_is_its_binary_result_in_angstrom(temul_files):
    path = temul_files["emd"]
    result = emd.file_reader(str(path), lazy=True)[0]["original_metadata"]["BinaryResult"]
    assert (result["PixelUnitX"], result["PixelUnitY"]) == ("m", "m")
    width, height = float(result["PixelSize"]["width"]), float(result["PixelSize"]["height"])
    image = read_microscope_file(path)
    assert (image.title, image.frames.shape) == ("HAADF", (1, 2048, 2048))
    # 1 m = 1e10 Å; rsciio goes m -> nm and this module nm -> Å, two roundings of 1e-16 each.
    assert image.sampling == pytest.approx(width * 1e10, rel=1e-12)
    assert image.sampling == pytest.approx(height * 1e10, rel=1e-12)
    assert image.sampling == pytest.approx(0.0749840149, rel=1e-9)


def test_predict_reads_the_pixel_size_of_a_dm3_and_warns_when_the_override_disagrees(temul_files):
    path = temul_files["dm3"]
    assert file_sampling(path) == pytest.approx(0.126953125, rel=1e-14)
    assert read_image(path).shape == (1024, 1024, 1)
    with pytest.warns(UserWarning, match=r"MoS2.dm3: --sampling 0.13 Å differs from the file's pixel size 0.126953 Å"
                                         r" by 2.4%"):
        assert resolve_sampling(path, file_sampling(path), 0.13) == 0.13


def test_a_truncated_dm3_is_refused_with_its_name(temul_files, tmp_path):
    path = tmp_path / "half.dm3"
    raw = temul_files["dm3"].read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"half.dm3: could not be read by rsciio.digitalmicrograph .* truncated"):
        read_microscope_file(path)


# --- round trips through RosettaSciIO's writers and the MRC standard -----------------------------------------

@pytest.mark.parametrize(("units", "scale"), [("nm", 0.025), ("µm", 2.5e-5), ("Å", 0.25), ("pm", 25.0)])
@pytest.mark.parametrize(("writer", "suffix"), [(tiff.file_writer, ".tif"), (emd.file_writer, ".emd")])
def test_a_written_calibration_reads_back_in_angstrom(tmp_path, writer, suffix, units, scale):
    data = RNG.normal(size=(32, 40)).astype(np.float32)
    path = tmp_path / f"image{suffix}"
    writer(str(path), signal(data, units=units, scale=scale))
    image = read_microscope_file(path)
    # Every scale is 0.25 Å; TIFF stores it as a float32 resolution, exact to 1e-7.
    assert image.sampling == pytest.approx(0.25, rel=1e-6)
    np.testing.assert_array_equal(image.frame(0), data)


@pytest.mark.parametrize(("writer", "suffix"), [(tiff.file_writer, ".tif"), (emd.file_writer, ".emd")])
def test_a_written_sequence_reads_back_frame_by_frame(tmp_path, writer, suffix):
    frames = RNG.normal(size=(3, 20, 24)).astype(np.float32)
    path = tmp_path / f"movie{suffix}"
    writer(str(path), signal(frames, units="nm", scale=0.012))
    image = read_microscope_file(path)
    assert image.n_frames == 3 and image.sampling == pytest.approx(0.12, rel=1e-6)
    for k in range(3):
        np.testing.assert_array_equal(image.frame(k), frames[k])


def write_mrc(path, data, pixel_size):
    """Write float32 ``data`` (frames, ny, nx) as MRC2014 (mode 2), cell size = pixels x ``pixel_size`` [Å]."""
    nz, ny, nx = data.shape
    words = np.zeros(256, dtype="<i4")
    words[0:4] = nx, ny, nz, 2  # NX, NY, NZ, MODE 2 = float32
    words[7:10] = nx, ny, nz  # MX, MY, MZ: sampling grid
    floats = words.view("<f4")
    floats[10:13] = nx * pixel_size, ny * pixel_size, nz * pixel_size  # cell lengths [Å]
    floats[13:16] = 90.0
    words[16:19] = 1, 2, 3  # MAPC, MAPR, MAPS
    words[52] = int.from_bytes(b"MAP ", "little")
    path.write_bytes(words.tobytes() + data.astype("<f4").tobytes())


def test_an_mrc_stack_reads_with_its_cell_pixel_size(tmp_path):
    frames = RNG.normal(size=(2, 24, 30)).astype(np.float32)
    write_mrc(tmp_path / "stack.mrc", frames, pixel_size=0.35)
    image = read_microscope_file(tmp_path / "stack.mrc")
    assert image.n_frames == 2 and image.sampling == pytest.approx(0.35, rel=1e-6)  # float32 cell lengths
    np.testing.assert_array_equal(image.frame(1), frames[1])


def test_a_truncated_mrc_names_each_unreadable_frame(tmp_path):
    path = tmp_path / "cut.mrc"
    write_mrc(path, RNG.normal(size=(3, 24, 30)), pixel_size=0.3)
    path.write_bytes(path.read_bytes()[:-24 * 30 * 4])  # the last frame is missing
    with pytest.warns(UserWarning, match=r"cut.mrc: frame [012] could not be read .* truncated"):
        with pytest.raises(ValueError, match="cut.mrc: none of its 3 frames is usable"):
            list(read_frames(path))


def test_complex_exit_waves_are_read_as_their_intensity(tmp_path):
    wave = (RNG.normal(size=(20, 20)) + 1j * RNG.normal(size=(20, 20))).astype(np.complex64)
    emd.file_writer(str(tmp_path / "wave.emd"), signal(wave, units="nm", scale=0.01))
    np.testing.assert_allclose(read_microscope_file(tmp_path / "wave.emd").frame(0), np.abs(wave) ** 2, rtol=1e-6)


# --- units and the override rule ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("scale", "unit", "expected"),
    [(0.5, "nm", 5.0), (2e-4, "µm", 2.0), (2e-4, "\u03bcm", 2.0), (3.0, "Å", 3.0), (40.0, "pm", 0.4),
     (1.0, None, None), (1.0, "", None), (1.0, "px", None), (0.0, "nm", None)],
)
def test_units_convert_to_angstrom(scale, unit, expected):
    assert angstrom_per_pixel(scale, unit, path="f.dm3") == (pytest.approx(expected, rel=1e-12) if expected else None)


@pytest.mark.parametrize(("unit", "message"), [("1/nm", "reciprocal unit '1/nm'"), ("nm^-1", "reciprocal"),
                                               ("eV", "unit 'eV', expected a length")])
def test_reciprocal_and_other_units_are_refused(unit, message):
    with pytest.raises(ValueError, match=f"f.dm3: image axes in {message}"):
        angstrom_per_pixel(0.1, unit, path="f.dm3")


def test_a_diffraction_pattern_file_is_refused(tmp_path):
    emd.file_writer(str(tmp_path / "dp.emd"), signal(RNG.random((32, 32)), units="1/nm", scale=0.1))
    with pytest.raises(ValueError, match="dp.emd: image axes in reciprocal unit"):
        read_microscope_file(tmp_path / "dp.emd")


def test_a_plain_tiff_has_no_pixel_size_and_needs_the_override(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, RNG.normal(size=(32, 32)).astype(np.float32))  # no resolution tags
    assert file_sampling(path) is None
    with pytest.raises(ValueError, match=r"plain.tif: the file holds no pixel size .* --sampling"):
        resolve_sampling(path, file_sampling(path), None)
    assert resolve_sampling(path, None, 0.2) == 0.2


def test_an_override_within_one_percent_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_sampling("f.dm3", 0.1, 0.1009) == 0.1009


# --- sequences with bad frames, and predict on microscope files -----------------------------------------------

def spots(shape, centres, *, sampling, sigma=0.5):
    """Gaussian spots of height 1 and width ``sigma`` [Å] at ``centres`` (x, y) [Å] on pixels of ``sampling`` [Å]."""
    x, y = np.indices(shape) * sampling
    return sum(np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2)) for cx, cy in centres).astype(np.float32)


def test_an_all_zero_frame_is_named_and_the_others_are_read(tmp_path):
    frames = RNG.normal(size=(3, 20, 20)).astype(np.float32)
    frames[1] = 0  # a dropped camera frame
    emd.file_writer(str(tmp_path / "movie.emd"), signal(frames, units="nm", scale=0.01))
    with pytest.warns(UserWarning, match=r"movie.emd frame 1: image channel\(s\) \[0\] constant.*frame skipped"):
        read = dict(read_frames(tmp_path / "movie.emd"))
    assert sorted(read) == [0, 2]
    np.testing.assert_array_equal(read[2][..., 0], frames[2])


def image_predictor(card):
    """A stand-in for a trained model that takes the (0..1) image itself as the atom probability."""
    return Predictor(normalize=lambda batch: batch,
                     probabilities=lambda batch: np.concatenate([1 - batch, batch], axis=-1),
                     card=card, receptive_field=0)


def test_predict_takes_the_pixel_size_from_the_file_and_each_frame_of_a_sequence(tmp_path):
    card = {"sampling": 0.12, "input_channels": 1, "size_multiple": 8, "classes": ["background", "atom"],
            "postprocess": {"threshold": 0.5}}  # the parts of a model card (model.json) that predict reads
    sampling = 0.1  # [Å/pixel], stored as 0.01 nm
    atoms = [np.array([[1.5, 2.2], [4.3, 1.1]]), np.array([[2.6, 2.9], [4.0, 4.4]])]  # frames 0 and 2, (x, y) [Å]
    frames = np.stack([spots((60, 56), atoms[0], sampling=sampling), np.zeros((60, 56), np.float32),
                       spots((60, 56), atoms[1], sampling=sampling)])
    emd.file_writer(str(tmp_path / "movie.emd"), signal(frames, units="nm", scale=sampling / 10))
    with pytest.warns(UserWarning, match="movie.emd frame 1"):
        written = predict_images(image_predictor(card), [tmp_path / "movie.emd"], out=tmp_path / "out")
    assert [p.name for p in written] == ["movie_frame0000.csv", "movie_frame0002.csv"]
    for path, expected in zip(written, atoms):
        with open(path, newline="") as stream:
            found = np.array([[float(r["x_A"]), float(r["y_A"])] for r in csv.DictReader(stream)])
        # Centres of mass of Gaussians 4 pixels wide at the model's 0.12 Å/pixel: within 0.005 pixels = 6e-4 Å;
        # the file's pixel size off by 1 % would move the atoms at 4 Å by 0.04 Å.
        np.testing.assert_allclose(found[np.argsort(found[:, 0])], expected, atol=5e-3)
    tifffile.imwrite(tmp_path / "plain.tif", frames[0])  # no calibration and no override
    with pytest.raises(ValueError, match="plain.tif: the file holds no pixel size"):
        predict_images(image_predictor(card), [tmp_path / "plain.tif"], out=tmp_path / "out")
