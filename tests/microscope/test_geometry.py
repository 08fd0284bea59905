import numpy as np
import tensorflow as tf

from atomsight.microscope.geometry import dihedral, pixel_positions


def test_the_eight_transforms_are_the_symmetries_of_the_square():
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    outs = [dihedral(tf.constant(image), tf.constant([t])).numpy()[0, :, :, 0] for t in range(8)]
    base = image[0, :, :, 0]
    expected = [np.rot90(base, k) for k in range(4)] + [np.rot90(base.T, k) for k in range(4)]
    assert (sorted(map(bytes, map(np.ascontiguousarray, outs)))
            == sorted(map(bytes, map(np.ascontiguousarray, expected))))
    np.testing.assert_array_equal(outs[0], base)


def test_each_image_gets_its_own_transform():
    images = tf.constant(np.arange(32, dtype=np.float32).reshape(2, 4, 4, 1))
    out = dihedral(images, tf.constant([0, 4])).numpy()
    np.testing.assert_array_equal(out[0], images[0])
    np.testing.assert_array_equal(out[1, :, :, 0], images[1, :, :, 0].numpy().T)


def test_pixel_positions():
    x = pixel_positions(tf.constant([1.0, 0.0]), tf.constant([0.5, 0.1]), 3).numpy()
    np.testing.assert_allclose(x, [[1.0, 1.5, 2.0], [0.0, 0.1, 0.2]], atol=1e-7)
