"""Where the probe is at each pixel of a STEM image: the scan and its faults.

A frame is M lines of M pixels. Line s (the image's first index, x when unrotated) is the
slow-scan coordinate u, pixel p along the line (the second index, y) the fast-scan
coordinate w. In the scan frame the probe sits, relative to the specimen, at

    u = s d + D_u t
    w = p d + A_f exp(-p / n_f) + j_s + A_m sin(2 pi s / P + phase) + D_w t

with d the drawn sampling [Å/pixel] and t = (s M + p) / M^2 the time as a fraction of the
frame: linear drift D [Å per frame] (magnitude and direction drawn); flyback, the lag A_f
[Å] of the beam behind its ramp at the start of every line, decaying over n_f pixels;
line jitter j_s [Å], an independent normal shift of each line along it; and slow-scan
distortion, a mains-frequency pickup that moves line s by A_m [Å] with a period of P lines.
The frame is rotated by the scan rotation about its centre and placed at the drawn shift.
A feature of the specimen at r appears where the probe sits at r, so drift D moves it by
-D t in the image.
"""

from __future__ import annotations

import math

import tensorflow as tf


def scan_positions(params: dict[str, tf.Tensor], jitter: tf.Tensor, size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Return the probe positions (x, y) [Å] of every pixel of a batch of frames.

    Parameters
    ----------
    params : dict of tf.Tensor
        Batched (B,) parameters: ``sampling`` [Å/pixel], ``shift_x``, ``shift_y`` (the first
        pixel's position without rotation and faults) [Å], ``rotation`` [rad], ``drift``
        [Å per frame] and ``drift_angle`` [rad, from the slow towards the fast axis],
        ``flyback`` [Å], ``flyback_decay`` [pixels], ``slow_scan`` [Å], ``slow_scan_period``
        [lines], ``slow_scan_phase`` [rad].
    jitter : tf.Tensor
        The shift of every line along it, (B, M) [Å].
    size : int
        Pixels per line and lines per frame, M.

    Returns
    -------
    tuple of tf.Tensor
        float32 x and y, each (B, M * M), line after line.
    """
    column = lambda name: tf.reshape(params[name], (-1, 1, 1))  # noqa: E731  (B,) -> (B, 1, 1)
    index = tf.range(size, dtype=tf.float32)
    line, pixel = index[None, :, None], index[None, None, :]
    sampling = column("sampling")
    time = (line * size + pixel) / size**2
    drift_u = column("drift") * tf.cos(column("drift_angle"))
    drift_w = column("drift") * tf.sin(column("drift_angle"))
    flyback = column("flyback") * tf.exp(-pixel / tf.maximum(column("flyback_decay"), 1e-3))
    pickup = column("slow_scan") * tf.sin(2 * math.pi * line / column("slow_scan_period") + column("slow_scan_phase"))
    u = line * sampling + drift_u * time
    w = pixel * sampling + flyback + jitter[:, :, None] + pickup + drift_w * time
    centre = (size - 1) / 2 * sampling
    cos, sin = tf.cos(column("rotation")), tf.sin(column("rotation"))
    x = column("shift_x") + centre + cos * (u - centre) - sin * (w - centre)
    y = column("shift_y") + centre + sin * (u - centre) + cos * (w - centre)
    batch = tf.shape(x)[0]
    return tf.reshape(x, (batch, size * size)), tf.reshape(y, (batch, size * size))


def extra_extent(settings_bounds: dict[str, tuple[float, float]]) -> float:
    """Return how far the faults can move a frame's probe beyond its nominal square [Å], per axis.

    Drift, flyback and the mains pickup at their largest, and 4 standard deviations of line
    jitter, on both sides.
    """
    largest = {name: max(abs(v) for v in bounds) for name, bounds in settings_bounds.items()}
    return largest["drift"] + largest["flyback"] + 2 * (largest["slow_scan"] + 4 * largest["jitter"])
