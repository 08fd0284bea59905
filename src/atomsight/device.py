"""Resolve the configured device ("auto", "cpu" or "gpu") to the one that runs, per library, and
the precision ("auto", "float32", "mixed_bfloat16") a network computes in on it.

Multislice runs on CuPy (abTEM's GPU backend), training and evaluation on TensorFlow; each
library is asked separately whether it sees a CUDA device, and the pick is logged. bfloat16
is chosen only where the hardware computes it (:func:`native_bfloat16`).
"""

from __future__ import annotations

import functools
import logging
import os

DEVICES: tuple[str, ...] = ("auto", "cpu", "gpu")
LIBRARIES: tuple[str, ...] = ("cupy", "tensorflow")

log = logging.getLogger(__name__)

_INSTALL_HINT = {
    "cupy": "install CuPy for your CUDA version (pip install cupy-cuda12x, or envs/atomsight-gpu.yaml)",
    "tensorflow": "install TensorFlow with CUDA (pip install 'tensorflow[and-cuda]', or envs/atomsight-gpu.yaml)",
}


def gpu_names(library: str = "cupy") -> list[str]:
    """Return the CUDA devices that ``library`` sees (empty when it is missing or sees none).

    Parameters
    ----------
    library : {"cupy", "tensorflow"}
        The array library that would run on the GPU.

    Returns
    -------
    list of str
        One name per device, e.g. ``["NVIDIA H100 80GB HBM3"]`` (CuPy) or
        ``["/physical_device:GPU:0"]`` (TensorFlow).
    """
    if library not in LIBRARIES:
        raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")
    return list(_cupy_gpus() if library == "cupy" else _tensorflow_gpus())


@functools.cache
def _cupy_gpus() -> tuple[str, ...]:
    try:
        import cupy
    except ImportError:
        return ()
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        return tuple(cupy.cuda.runtime.getDeviceProperties(i)["name"].decode() for i in range(count))
    except cupy.cuda.runtime.CUDARuntimeError:
        return ()


@functools.cache
def _tensorflow_gpus() -> tuple[str, ...]:
    try:
        import tensorflow as tf
    except ImportError:
        return ()
    return tuple(device.name for device in tf.config.list_physical_devices("GPU"))


def gpu_available(library: str = "cupy") -> bool:
    """Return whether ``library`` ("cupy" or "tensorflow") is installed and sees a CUDA device."""
    return bool(gpu_names(library))


def resolve_device(requested: str, library: str = "cupy") -> str:
    """Return the device that ``library`` runs on, and log the pick.

    Parameters
    ----------
    requested : {"auto", "cpu", "gpu"}
        The configured device. "auto" picks the GPU when ``library`` sees one.
    library : {"cupy", "tensorflow"}
        "cupy" for multislice (abTEM), "tensorflow" for training and evaluation.

    Returns
    -------
    str
        "cpu" or "gpu".

    Raises
    ------
    ValueError
        If ``requested`` or ``library`` is unknown.
    RuntimeError
        If "gpu" is requested but ``library`` or a CUDA device is missing.
    """
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {requested!r}")
    names = [] if requested == "cpu" else gpu_names(library)
    if requested == "gpu" and not names:
        raise RuntimeError(
            f"device: gpu was requested but {library} sees no GPU: {_INSTALL_HINT[library]} and check that a"
            " CUDA device is visible (nvidia-smi, CUDA_VISIBLE_DEVICES), or set device: auto"
        )
    device = "gpu" if names else "cpu"
    where = f"GPU ({', '.join(names)})" if names else "CPU"
    log.info("device %r resolved to %r: %s runs on the %s", requested, device, library, where)
    return device


def select_tensorflow_device(requested: str) -> str:
    """Resolve ``requested`` for TensorFlow and hide its GPUs when the CPU was picked.

    Call it before TensorFlow runs anything: a "cpu" pick on a machine with GPUs makes
    them invisible to TensorFlow, so the model really runs where the log says.

    Parameters
    ----------
    requested : {"auto", "cpu", "gpu"}
        The configured device.

    Returns
    -------
    str
        "cpu" or "gpu", as :func:`resolve_device` with ``library="tensorflow"``.
    """
    device = resolve_device(requested, "tensorflow")
    if requested == "cpu" and gpu_available("tensorflow"):
        import tensorflow as tf

        tf.config.set_visible_devices([], "GPU")
    return device


PRECISIONS: tuple[str, ...] = ("auto", "float32", "mixed_bfloat16")
"""Values of ``training.precision`` and ``predict --precision``: "auto" is chosen from the hardware."""

_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
ISAS_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI")
"""oneDNN's ISA caps (ONEDNN_MAX_CPU_ISA) below AVX512_CORE_BF16: bfloat16 is emulated under them."""


def native_bfloat16() -> tuple[bool, str]:
    """Say whether the device TensorFlow computes on does bfloat16 arithmetic in hardware, and why.

    A GPU does from compute capability 8.0 (Ampere); a CPU when it has AVX-512 BF16 or AMX-BF16
    (``/proc/cpuinfo``'s flags) and oneDNN is not capped below them (``ONEDNN_MAX_CPU_ISA``).
    Elsewhere TensorFlow emulates bfloat16, slower than float32 (BENCHMARKS.md).

    Returns
    -------
    tuple of (bool, str)
        The answer and the fact it rests on, for the log.
    """
    gpus = _tensorflow_gpus()
    if gpus:
        import tensorflow as tf

        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        capability = tuple(details.get("compute_capability") or (0, 0))
        return capability >= (8, 0), f"GPU of compute capability {'.'.join(map(str, capability))}"
    flags = _cpu_flags()
    if flags is None:
        return False, "CPU flags unknown (no /proc/cpuinfo)"
    found = [flag for flag in _BF16_CPU_FLAGS if flag in flags]
    if not found:
        return False, "CPU without AVX-512 BF16 or AMX-BF16"
    if onednn_capped_below_bfloat16():
        cap = os.environ["ONEDNN_MAX_CPU_ISA"].upper()
        return False, f"CPU with {', '.join(found)}, but ONEDNN_MAX_CPU_ISA={cap} caps oneDNN below them"
    return True, f"CPU with {', '.join(found)}"


def onednn_capped_below_bfloat16() -> bool:
    """Whether ``ONEDNN_MAX_CPU_ISA`` caps oneDNN below its bfloat16 instructions.

    Under such a cap oneDNN refuses bfloat16 convolutions outright ("could not create a
    primitive descriptor"), where a CPU that lacks them emulates them.
    """
    return os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in ISAS_WITHOUT_BF16


def _cpu_flags() -> list[str] | None:
    """The CPU's feature flags as Linux lists them, or None where it does not."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return None


def resolve_precision(requested: str, trained: str | None = None) -> str:
    """Return the Keras dtype policy a network computes in, and log the pick.

    Parameters
    ----------
    requested : {"auto", "float32", "mixed_bfloat16"}
        The configured or requested precision. "auto": ``trained`` (or mixed_bfloat16 for a
        new network) where the device does bfloat16 in hardware (:func:`native_bfloat16`),
        float32 elsewhere.
    trained : str, optional
        The precision a trained network was trained in, when it is to be run.

    Returns
    -------
    str
        "float32" or "mixed_bfloat16".
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {requested!r}")
    if requested != "auto":
        return requested
    native, reason = native_bfloat16()
    wanted = trained or "mixed_bfloat16"
    chosen = wanted if native else "float32"
    log.info("precision 'auto' resolved to %r: %s%s", chosen, reason,
             "" if chosen == wanted else f" (the network was trained in {wanted})" if trained else "")
    return chosen
