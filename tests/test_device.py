import logging

import pytest

from atomsight import device


@pytest.fixture
def gpus(monkeypatch):
    """Pretend that CuPy and TensorFlow see the given devices: ``gpus(cupy=[...], tensorflow=[...])``."""
    def pretend(**seen):
        monkeypatch.setattr(device, "gpu_names", lambda library="cupy": list(seen.get(library, [])))
    return pretend


def test_cpu_is_always_cpu(gpus):
    gpus(cupy=["NVIDIA H100"], tensorflow=["/physical_device:GPU:0"])
    assert device.resolve_device("cpu") == "cpu"
    assert device.resolve_device("cpu", "tensorflow") == "cpu"


def test_auto_follows_what_each_library_sees(gpus):
    gpus(cupy=["NVIDIA H100"])
    assert device.resolve_device("auto", "cupy") == "gpu"
    assert device.resolve_device("auto", "tensorflow") == "cpu"
    gpus(tensorflow=["/physical_device:GPU:0"])
    assert device.resolve_device("auto", "cupy") == "cpu"
    assert device.resolve_device("auto", "tensorflow") == "gpu"


def test_the_pick_is_logged_with_the_library_and_device(gpus, caplog):
    gpus(cupy=["NVIDIA H100"])
    with caplog.at_level(logging.INFO, logger="atomsight.device"):
        device.resolve_device("auto", "cupy")
        device.resolve_device("auto", "tensorflow")
    assert caplog.messages == [
        "device 'auto' resolved to 'gpu': cupy runs on the GPU (NVIDIA H100)",
        "device 'auto' resolved to 'cpu': tensorflow runs on the CPU",
    ]


@pytest.mark.parametrize("library, hint", [("cupy", "cupy-cuda12x"), ("tensorflow", "tensorflow\\[and-cuda\\]")])
def test_gpu_without_gpu_says_what_to_do(gpus, library, hint):
    gpus()
    with pytest.raises(RuntimeError, match=f"{library} sees no GPU: install .*{hint}"):
        device.resolve_device("gpu", library)


def test_unknown_device_or_library_is_named():
    with pytest.raises(ValueError, match="'tpu'"):
        device.resolve_device("tpu")
    with pytest.raises(ValueError, match="'torch'"):
        device.gpu_names("torch")


def test_this_machine_is_asked_for_real():
    # The CPU test machines have tensorflow-cpu and no CuPy; a GPU box has both.
    for library in device.LIBRARIES:
        expected = "gpu" if device.gpu_names(library) else "cpu"
        assert device.resolve_device("auto", library) == expected
    assert device.select_tensorflow_device("cpu") == "cpu"
    import tensorflow as tf

    assert tf.config.get_visible_devices("GPU") == []
