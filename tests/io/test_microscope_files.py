"""Microscope files through RosettaSciIO: calibration against the files' own metadata, round trips, bad input."""

import csv
import importlib.util
import re
import struct
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from rsciio import digitalmicrograph, emd, tiff

from atomsight.io.formats import format_of, read_microscope_file
from atomsight.io.images import file_sampling, frame_shape, read_frames, read_image
from atomsight.io.microscope_files import angstrom_per_pixel, resolve_sampling
from atomsight.network.predict import predict_images

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


# --- real files from hyperspy's and mrcfile's test data: .dm4, TIA .ser/.emi, TIFF, MRC, and what is no image ---

TIA_DTYPES = {1: np.uint8, 2: np.uint16, 3: np.uint32, 4: np.int8, 5: np.int16, 6: np.int32, 7: np.float32}
"""numpy type of each DataType code of a TIA .ser data element (FEI's Series File format)."""


def ser_first_element(path):
    """The header of the first 2D data element of a TIA .ser file, parsed by hand (FEI's Series File format)."""
    raw = path.read_bytes()
    byte_order, _, version, data_type_id = struct.unpack_from("<hhhi", raw, 0)
    assert (byte_order, data_type_id) == (0x4949, 0x4122)  # little endian, 2D elements
    offset = "<q" if version >= 0x220 else "<i"  # 64-bit file offsets from series version 0x220 on
    first = struct.unpack_from(offset, raw, struct.unpack_from(offset, raw, 22)[0])[0]
    keys = ("offset_x", "delta_x", "element_x", "offset_y", "delta_y", "element_y", "data_type", "size_x", "size_y")
    return dict(zip(keys, struct.unpack_from("<ddiddihii", raw, first)))  # calibrations in m


@pytest.mark.parametrize("suffix", [".emi", "_1.ser"])
@pytest.mark.parametrize(("stem", "n_frames"), [("FEI_old/64x64_TEM_images_acquire", 1),
                                                ("FEI_old/64x64x5_TEM_preview", 5),
                                                ("FEI_new/128x128-TEM_search", 1)])  # series version 0x220
def test_tia_pixel_size_is_the_ser_calibration_in_angstrom(hyperspy_io, stem, n_frames, suffix):
    element = ser_first_element(hyperspy_io / f"{stem}_1.ser")
    size = element["size_x"]
    assert element["size_y"] == size and element["delta_y"] == element["delta_x"]
    image = read_microscope_file(hyperspy_io / f"{stem}{suffix}")
    assert image.frames.shape == (n_frames, size, size) and image.frames.dtype == TIA_DTYPES[element["data_type"]]
    # 1 m = 1e10 Å; rsciio goes m -> nm and this module nm -> Å, two roundings of 1e-16 each.
    assert image.sampling == pytest.approx(element["delta_x"] * 1e10, rel=1e-12)
    assert image.frame(n_frames - 1).shape == (size, size)


def test_the_frame_shape_read_from_each_real_files_header_is_that_of_its_frames(temul_files, hyperspy_io, mrc_files):
    files = [*temul_files.values(), hyperspy_io / "FEI_old/64x64x5_TEM_preview_1.ser",
             hyperspy_io / "dm4_2D_data/test-MonarcCL_mono-image.dm4",
             hyperspy_io / "tiff_files/test_loading_image_saved_with_DM_stack.tif",
             hyperspy_io / "emd_files/Si100_2x1x1_3D.emd", *mrc_files.values()]
    for path in files:
        count, read = format_of(path).frames(path)
        assert frame_shape(path) == read(count - 1).shape, path


def test_dm4_pixel_size_is_its_calibration_tag_in_angstrom(hyperspy_io):
    path = hyperspy_io / "dm4_2D_data/test-MonarcCL_mono-image.dm4"  # a Gatan MonoCL image, binned to 2 x 2 pixels
    tags = digitalmicrograph.file_reader(str(path), lazy=True)[0]["original_metadata"]
    dimensions = tags["ImageList"]["TagGroup0"]["ImageData"]["Calibrations"]["Dimension"]
    [(unit, scale)] = {(dimensions[k]["Units"], dimensions[k]["Scale"]) for k in ("TagGroup0", "TagGroup1")}
    assert unit in ("µm", "\u03bcm") and scale == pytest.approx(18.3253, rel=1e-5)  # square pixels
    image = read_microscope_file(path)
    assert (image.title, image.unit, image.frames.shape, image.frames.dtype) == ("MonoCL-image-rebin", unit, (1, 2, 2),
                                                                                np.uint16)
    # 1 µm = 1e4 Å, typed here; float multiplication by 1e4 is exact to the last bit or two.
    assert image.sampling == pytest.approx(scale * 1e4, rel=1e-14)


def test_berkeley_emd_pixel_size_is_the_spacing_of_its_dim_vectors_in_angstrom(hyperspy_io):
    # Written by Prismatic (not by RosettaSciIO): an EMD 0.2 realslice with its axes as coordinate vectors.
    path = hyperspy_io / "emd_files/Si100_2x1x1_3D.emd"
    with h5py.File(path) as file:
        group = file["4DSTEM_simulation/data/realslices/annular_detector_depth0000"]
        dims = [(group[d][()], group[d].attrs["units"].decode()) for d in ("dim1", "dim2")]
    assert [unit for _, unit in dims] == ["[n_m]", "[n_m]"]  # EMD 0.2's spelling of nm
    spacings = {float(s) for vector, _ in dims for s in np.diff(vector)}
    assert spacings == {0.25}  # square pixels of 0.25 nm on both axes, every step alike
    image = read_microscope_file(path)
    assert sorted(image.frames.shape) == sorted((1, *(len(vector) for vector, _ in dims)))
    assert image.sampling == pytest.approx(0.25 * 10, rel=1e-6)  # float32 vectors: 0.25 is exact, 1 nm = 10 Å


def test_a_berkeley_emd_of_detector_angles_is_refused_with_its_axis_named(hyperspy_io):
    path = hyperspy_io / "emd_files/Si100_3D.emd"  # Prismatic's 3D output: (detector angle, y, x)
    with pytest.raises(ValueError, match=r"Si100_3D.emd: .*'bin_outer_angle' in 'mrad'"):
        read_microscope_file(path)


def test_a_dm3_with_an_image_and_a_line_plot_gives_the_image(hyperspy_io):
    image = read_microscope_file(hyperspy_io / "dm3_2D_data/multi_signal.dm3")
    assert (image.title, image.unit, image.frames.shape) == ("HAADF", "nm", (1, 512, 512))
    assert image.sampling == pytest.approx(0.17751578, rel=1e-7)


def dm_tiff_tags(path):
    """DigitalMicrograph's private TIFF tags of the first page: units and scales of x (width) and y (height)."""
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        return {"unit_x": tags[65003].value, "unit_y": tags[65004].value,
                "scale_x": tags[65009].value, "scale_y": tags[65010].value}


def test_a_tiff_saved_by_digitalmicrograph_has_the_pixel_size_of_its_dm_tags(hyperspy_io):
    path = hyperspy_io / "tiff_files/test_loading_image_saved_with_DM.tif"
    tags = dm_tiff_tags(path)
    assert tags["unit_x"] == tags["unit_y"] in ("µm", "\u03bcm") and tags["scale_x"] == tags["scale_y"]
    image = read_microscope_file(path)
    assert image.frames.shape == (1, 68, 68) and image.frames.dtype == np.int32
    assert image.sampling == pytest.approx(tags["scale_x"] * 1e4, rel=1e-14)  # 1 µm = 1e4 Å


def test_a_digitalmicrograph_tiff_stack_with_oblong_pixels_is_refused(hyperspy_io):
    path = hyperspy_io / "tiff_files/test_loading_image_saved_with_DM_stack.tif"
    tags = dm_tiff_tags(path)
    assert tags["scale_y"] / tags["scale_x"] == pytest.approx(10, rel=1e-6)  # the file's own tags: 10:1 pixels
    with pytest.raises(ValueError, match=r"DM_stack.tif: pixels of 16867.4 x 1686.74 Å, expected square pixels"):
        read_microscope_file(path)


def test_an_imagej_tiff_pixel_size_is_its_resolution_in_angstrom(hyperspy_io):
    path = hyperspy_io / "tiff_files/test_loading_image_saved_with_imageJ.tif"
    with tifffile.TiffFile(path) as tif:
        pixels, per_units = tif.pages[0].tags["XResolution"].value  # a rational: pixels per unit
        assert tif.pages[0].tags["YResolution"].value == (pixels, per_units)
        assert tif.imagej_metadata["unit"] == "micron"
    image = read_microscope_file(path)
    assert image.frames.shape == (1, 68, 68) and image.frames.dtype == np.float32
    assert image.sampling == pytest.approx(per_units / pixels * 1e4, rel=1e-12)  # 1 µm = 1e4 Å


def test_an_olympus_sis_tiff_gives_its_calibrated_image_not_its_rgb_preview(hyperspy_io):
    path = hyperspy_io / "tiff_files/olympus_SIS.tif"
    with tifffile.TiffFile(path) as tif:
        assert [(p.shape, p.dtype) for p in tif.pages] == [((101, 112, 3), np.uint8), ((101, 112), np.uint16)]
        sis = tif.pages[1].tags["OlympusSIS"].value  # pixel sizes [m], here of a 600 000x TEM image
    assert sis["pixelsizex"] == pytest.approx(sis["pixelsizey"], rel=1e-12)
    image = read_microscope_file(path)
    assert image.frames.shape == (1, 101, 112) and image.frames.dtype == np.uint16
    # rsciio rounds the pixel size to whole 1e-15 m = 1e-5 Å, so it is up to 5e-6 Å off.
    assert image.sampling == pytest.approx(sis["pixelsizex"] * 1e10, abs=5e-6)
    assert image.frame(0).shape == (101, 112)  # uncompressed, unlike the JPEG preview (which needs imagecodecs)


@pytest.mark.parametrize(("name", "shape"), [("epu2.9_example.mrc", (4096, 4096)), ("fei-extended.mrc", (3838, 3710))])
def test_an_epu_mrc_pixel_size_is_its_cell_over_its_grid_in_angstrom(mrc_files, name, shape):
    path = mrc_files[name]
    header = np.fromfile(path, dtype="<i4", count=256)  # MRC2014 standard header
    (nx, ny, nz, mode), (mx, my), (cell_x, cell_y) = header[0:4], header[7:9], header[10:12].view("<f4")
    extended_bytes, extended_type = int(header[23]), header[26:27].tobytes()
    assert ((ny, nx), nz, mode, extended_type in (b"FEI1", b"FEI2")) == (shape, 1, 6, True)  # mode 6: uint16
    with open(path, "rb") as stream:  # EPU's own record: 'Pixel size X' and 'Y' [m] at byte 156 of the FEI header
        stream.seek(1024 + 156)
        fei_x, fei_y = struct.unpack("<dd", stream.read(16))
    image = read_microscope_file(path)
    assert image.frames.shape == (1, *shape) and image.frames.dtype == np.uint16
    # The rows' spacing: the float32 cell length over the grid, divided in float64.
    assert image.sampling == pytest.approx(float(cell_y) / my, rel=1e-12)
    # The columns' spacing and EPU's float64 record agree to the float32 rounding of the cell lengths (6e-8).
    assert image.sampling == pytest.approx(float(cell_x) / mx, rel=2e-7)
    assert image.sampling == pytest.approx(fei_x * 1e10, rel=2e-7) and fei_y == fei_x
    pixels = np.memmap(path, dtype="<u2", mode="r", offset=1024 + extended_bytes, shape=shape)
    np.testing.assert_array_equal(image.frame(0), pixels)  # the data start after the extended header


@pytest.mark.parametrize(("name", "message"), [
    ("dm3_2D_data/test_diffraction_pattern.dm3", r"image axes in reciprocal unit '1/nm'"),
    ("FEI_old/64x64_diffraction_acquire.emi", r"image axes in reciprocal unit '1 / nm'"),
    ("dm3_1D_data/test-EELS_spectrum.dm3", r"no real-space image found \(signals: 'EELS Acquire' \(2048,\)\)"),
    ("dm4_3D_data/EELS_SI.dm4", r"signal 'EELS_SI' \(2048, 2, 2\) has its leading axis 'Energy loss' in 'eV'"),
    ("FEI_old/16x16-spectrum_image-5x5x1024.emi", r"image axes in unit 'eV', expected a length"),
])
def test_real_diffraction_patterns_and_spectra_are_refused_with_their_name(hyperspy_io, name, message):
    with pytest.raises(ValueError, match=re.escape(Path(name).name) + ": " + message):
        read_microscope_file(hyperspy_io / name)


@pytest.mark.skipif(importlib.util.find_spec("sparse") is not None, reason="sparse is installed: rsciio reads it")
def test_a_velox_spectrum_image_names_the_optional_package_rsciio_needs(hyperspy_io):
    with pytest.raises(ValueError, match=r"fei_emd_si.emd: rsciio.emd needs an optional package .*'sparse'"):
        read_microscope_file(hyperspy_io / "emd_files/fei_emd_si.emd")


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
     (2e-11, "m", 0.2),
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
    with pytest.warns(UserWarning, match=r"movie.emd frame 1: constant.*frame skipped"):
        read = dict(read_frames(tmp_path / "movie.emd"))
    assert sorted(read) == [0, 2]
    np.testing.assert_array_equal(read[2][..., 0], frames[2])


def test_predict_takes_the_pixel_size_from_the_file_and_each_frame_of_a_sequence(tmp_path, make_predictor):
    # A stand-in for a trained model that takes the (0..1) image itself as the atom probability.
    image_predictor = make_predictor(lambda batch: np.concatenate([1 - batch, batch], axis=-1), sampling=0.12)
    sampling = 0.1  # [Å/pixel], stored as 0.01 nm
    atoms = [np.array([[1.5, 2.2], [4.3, 1.1]]), np.array([[2.6, 2.9], [4.0, 4.4]])]  # frames 0 and 2, (x, y) [Å]
    frames = np.stack([spots((60, 56), atoms[0], sampling=sampling), np.zeros((60, 56), np.float32),
                       spots((60, 56), atoms[1], sampling=sampling)])
    emd.file_writer(str(tmp_path / "movie.emd"), signal(frames, units="nm", scale=sampling / 10))
    with pytest.warns(UserWarning, match="movie.emd frame 1"):
        written = predict_images(image_predictor, [tmp_path / "movie.emd"], out=tmp_path / "out")
    assert [p.name for p in written] == ["movie_frame0000.csv", "movie_frame0002.csv"]
    for path, expected in zip(written, atoms):
        with open(path, newline="") as stream:
            found = np.array([[float(r["x_A"]), float(r["y_A"])] for r in csv.DictReader(stream)])
        # Centres of mass of Gaussians 4 pixels wide at the model's 0.12 Å/pixel: within 0.005 pixels = 6e-4 Å;
        # the file's pixel size off by 1 % would move the atoms at 4 Å by 0.04 Å.
        np.testing.assert_allclose(found[np.argsort(found[:, 0])], expected, atol=5e-3)
    tifffile.imwrite(tmp_path / "plain.tif", frames[0])  # no calibration and no override
    with pytest.raises(ValueError, match="plain.tif: the file holds no pixel size"):
        predict_images(image_predictor, [tmp_path / "plain.tif"], out=tmp_path / "out")


def test_stem_files_say_so_and_tem_images_do_not(temul_files, hyperspy_io):
    assert read_microscope_file(temul_files["emd"]).acquisition == "STEM (Velox scanning detector HAADF)"
    assert read_microscope_file(temul_files["dm3"]).acquisition == (
        "STEM (DigitalMicrograph operation mode SCANNING, illumination mode STEM)")
    for name in ("FEI_old/64x64_TEM_images_acquire.emi", "FEI_new/128x128-TEM_search.emi"):
        assert read_microscope_file(hyperspy_io / name).acquisition is None, name


def test_a_stem_file_is_refused_by_an_hrtem_model_before_anything_runs(temul_files):
    from atomsight.network.preflight import check_inputs

    card = {"name": "gold", "sampling": 0.12, "modality": "hrtem"}
    passed, refused = check_inputs(card, [temul_files["dm3"]], sampling=None)
    assert passed == [] and len(refused) == 1
    assert refused[0].reason.startswith(f"{temul_files['dm3']}: its metadata says it is a STEM (DigitalMicrograph")
    assert "the model 'gold' was trained on HRTEM images" in refused[0].reason


def test_the_velox_haadf_file_is_refused_for_what_it_is_not_for_its_pixel_size(temul_files):
    from atomsight.network.preflight import check_inputs

    _, refused = check_inputs({"name": "gold", "sampling": 0.12}, [temul_files["emd"]], sampling=None)
    assert "its metadata says it is a STEM (Velox scanning detector HAADF) image" in refused[0].reason
