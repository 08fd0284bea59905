"""The tf.data pipeline on tiny stores: shapes, reproducibility, independence of parallelism and batching."""

import copy
import shutil

import numpy as np
import pytest
import tensorflow as tf

from atomsight.io.store import StoreError
from atomsight.microscope.data import training_dataset, training_spectra, validation_dataset


@pytest.fixture(scope="module")
def graphene(tiny_config, tiny_stores):
    return tiny_config["systems"]["graphene"], tiny_stores["graphene"]


@pytest.fixture(scope="module")
def gold(tiny_config, tiny_stores):
    return tiny_config["systems"]["gold"], tiny_stores["gold"]


def take(dataset, batches):
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset.take(batches)])
    return np.concatenate(images), np.concatenate(labels)


def test_batches_have_the_configured_shapes(graphene, gold):
    for (system, stores), channels, classes in [(graphene, 1, 2), (gold, 3, 4)]:
        images, labels = take(training_dataset(stores["train"], system, seed=0, batch_size=2), 1)
        size = system["microscope"]["image_size"]
        assert images.shape == (2, size, size, channels) and labels.shape == (2, size, size, classes)
        assert np.isfinite(images).all()
        np.testing.assert_allclose(labels.sum(-1), 1.0, atol=1e-4)


def test_the_microscope_renders_the_same_batches_outside_the_pipeline(graphene):
    # As it would inside a training step: the batches before the microscope, rendered by it.
    system, stores = graphene
    batches, microscope = training_spectra(stores["train"], system, seed=7, batch_size=2)
    render = tf.function(microscope)
    images, labels = (np.concatenate(parts) for parts in zip(*[
        (x.numpy(), y.numpy()) for x, y in (render(*batch) for batch in batches.take(2))]))
    expected_images, expected_labels = take(training_dataset(stores["train"], system, seed=7, batch_size=2), 2)
    # The same draws and ops; only float32 summation order differs between the map's threads and the
    # function's (a few 1e-6 on images of unit variance and labels in [0, 1]).
    np.testing.assert_allclose(images, expected_images, rtol=0, atol=1e-5)
    np.testing.assert_allclose(labels, expected_labels, rtol=0, atol=1e-5)


def test_the_same_seed_gives_the_same_images_and_another_seed_others(graphene):
    system, stores = graphene
    a = take(training_dataset(stores["train"], system, seed=3, batch_size=2), 3)
    b = take(training_dataset(stores["train"], system, seed=3, batch_size=2), 3)
    c = take(training_dataset(stores["train"], system, seed=4, batch_size=2), 3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_images_do_not_depend_on_parallelism_or_batching(graphene):
    system, stores = graphene
    reference = take(training_dataset(stores["train"], system, seed=5, batch_size=4), 1)[0]
    serial = training_dataset(stores["train"], system, seed=5, batch_size=2)
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.autotune.enabled = False
    np.testing.assert_array_equal(take(serial.with_options(options), 2)[0], reference)


def test_reading_from_the_stores_equals_reading_from_memory(graphene):
    system, stores = graphene
    lazy = copy.deepcopy(system)
    lazy["microscope"]["cache_limit_mb"] = 0
    in_memory = take(training_dataset(stores["train"], system, seed=6, batch_size=2), 2)[0]
    from_stores = take(training_dataset(stores["train"], lazy, seed=6, batch_size=2), 2)[0]
    np.testing.assert_allclose(from_stores, in_memory, atol=1e-5)


def test_every_structure_is_seen_once_per_pass(graphene):
    system, stores = graphene
    # With noise, blur and symmetry off, images of one structure differ only by the microscope;
    # the label maps of one pass must cover all three structures' atom counts.
    quiet = copy.deepcopy(system)
    quiet["microscope"].update(dose=None, augment=False, scale_jitter=0.0, blur=[0.0, 0.0])
    _, labels = take(training_dataset(stores["train"], quiet, seed=1, batch_size=1), 3)
    assert len({round(float(m[..., 1].sum()), 1) for m in labels}) == 3


def test_validation_images_are_fixed(graphene):
    system, stores = graphene
    dataset = validation_dataset(stores["test"], system, count=5, batch_size=2)
    first, second = take(dataset, 3), take(dataset, 3)
    assert first[0].shape[0] == 5
    np.testing.assert_array_equal(first[0], second[0])


def test_a_store_without_labels_is_named(graphene, tmp_path):
    system, stores = graphene
    broken = tmp_path / "shard-000.zarr"
    shutil.copytree(stores["train"][0], broken)
    shutil.rmtree(broken / "labels")
    with pytest.raises(StoreError, match=r"shard-000\.zarr: store lacks the arrays \['labels'\]"):
        training_dataset([broken], system, seed=0, batch_size=1)


def test_a_class_count_that_differs_from_the_configuration_is_named(graphene):
    system, stores = graphene
    other = copy.deepcopy(system)
    other["labels"].update(classes="heights", max_height=3)
    with pytest.raises(StoreError,
                       match=r"shard-000\.zarr: store has the classes \['atom'\] \(1\) but the configuration"):
        training_dataset(stores["train"], other, seed=0, batch_size=1)


def test_images_larger_than_the_exit_waves_are_refused(graphene):
    system, stores = graphene
    other = copy.deepcopy(system)
    other["microscope"]["image_size"] = 128
    with pytest.raises(StoreError,
                       match=r"shard-000\.zarr: training images of 128 pixels .* larger than the store's exit waves"):
        training_dataset(stores["train"], other, seed=0, batch_size=1)


def test_a_curriculum_stream_holds_its_start_ranges_then_widens_to_the_full_ones(graphene):
    system, stores = graphene
    system = copy.deepcopy(system)
    system["training"]["curriculum"] = {"hold": 1, "steps": 3, "start": {"defocus": [-61.0, -60.0]}}
    batches, _ = training_spectra(stores["train"], system, seed=0, batch_size=2)
    defocus = np.concatenate([params["defocus"].numpy() for _, _, params in batches.take(6)])
    full = system["microscope"]["defocus"]
    # Elements 0-2: progress 0 (held for the first step of 2 elements); element 3: progress 1/6.
    assert np.all((defocus[:3] >= -61.0) & (defocus[:3] <= -60.0))
    assert -61.0 + (full[0] + 61.0) / 6 <= defocus[3] <= -60.0 + (full[1] + 60.0) / 6
    # From element 8 (step 4) on: the full range.
    assert np.ptp(defocus[8:]) > 10 and defocus[8:].min() >= full[0] and defocus[8:].max() <= full[1]


def test_contrast_weighting_adds_one_weight_per_pixel_in_zero_to_one(graphene):
    system, stores = graphene
    system = copy.deepcopy(system)
    system["training"]["contrast_weight"] = 0.05
    images, labels, weights = next(iter(training_dataset(stores["train"], system, seed=0, batch_size=2)))
    unweighted = take(training_dataset(stores["train"], graphene[0], seed=0, batch_size=2), 1)
    np.testing.assert_array_equal(images.numpy(), unweighted[0])
    assert weights.shape == images.shape[:3] and 0 < weights.numpy().min() and weights.numpy().max() <= 1


def test_labels_of_another_width_than_the_configured_one_are_named(graphene):
    system, stores = graphene
    system = copy.deepcopy(system)
    system["labels"]["sigma"] = 0.5
    with pytest.raises(StoreError, match=r"sigma 1\.0 Å but the configuration's labels.sigma is 0\.5 Å"):
        training_dataset(stores["train"], system, seed=0, batch_size=2)
