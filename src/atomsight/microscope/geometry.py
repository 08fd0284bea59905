"""Where the pixels of an image lie, and the random rotations by 90 degrees and mirrorings."""

from __future__ import annotations

import tensorflow as tf


def pixel_positions(shift: tf.Tensor, sampling: tf.Tensor, size: int) -> tf.Tensor:
    """Return the positions ``shift + m * sampling`` of ``size`` pixels for every image [Å].

    Parameters
    ----------
    shift : tf.Tensor
        Position of the first pixel [Å], shape (B,).
    sampling : tf.Tensor
        Pixel size [Å/pixel], shape (B,).
    size : int
        Pixels along the axis.

    Returns
    -------
    tf.Tensor
        float32 positions, shape (B, size).
    """
    return shift[:, None] + tf.range(size, dtype=tf.float32)[None, :] * sampling[:, None]


def dihedral(images: tf.Tensor, transform: tf.Tensor) -> tf.Tensor:
    """Apply one of the 8 symmetries of the square to every NHWC image.

    Transform t (0..7) transposes the image if bit 2 is set, then mirrors the first
    spatial axis if bit 0 is set and the second if bit 1 is set; 0 is the identity.
    Images and their labels given the same transforms stay aligned.

    Parameters
    ----------
    images : tf.Tensor
        Square images (B, N, N, C).
    transform : tf.Tensor
        int32 transform of each image, shape (B,).

    Returns
    -------
    tf.Tensor
        The transformed images.
    """
    select = lambda bit: tf.reshape(tf.bitwise.bitwise_and(transform, bit) > 0, (-1, 1, 1, 1))  # noqa: E731
    images = tf.where(select(4), tf.transpose(images, (0, 2, 1, 3)), images)
    images = tf.where(select(1), tf.reverse(images, axis=[1]), images)
    return tf.where(select(2), tf.reverse(images, axis=[2]), images)


def symmetric_batch(
    params: dict[str, tf.Tensor], images: tf.Tensor, labels: tf.Tensor, weight: tf.Tensor | None = None
) -> tuple[tf.Tensor, ...]:
    """Apply each element's drawn symmetry (``params["dihedral"]``, :func:`dihedral`) to its images and labels.

    With ``weight``, one loss weight per image (B,), it is returned third, broadcast to every
    pixel, (B, M, M), M the images' side.
    """
    transform = params["dihedral"]
    batch = (dihedral(images, transform), dihedral(labels, transform))
    if weight is None:
        return batch
    size = tf.shape(images)[1]
    return (*batch, tf.broadcast_to(weight[:, None, None], (tf.shape(weight)[0], size, size)))
