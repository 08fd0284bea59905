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


@pytest.fixture
def cpu(monkeypatch):
    """Pretend to be a CPU-only machine with the given flags: ``cpu("avx2 fma")``; None: flags unknown."""
    monkeypatch.setattr(device, "_tensorflow_gpus", lambda: ())
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)

    def pretend(flags):
        monkeypatch.setattr(device, "_cpu_flags", lambda: None if flags is None else flags.split())
    return pretend


@pytest.mark.parametrize("flags, native", [
    ("fpu sse4_2 avx avx2 fma", False),                        # a laptop CPU: AVX2 and FMA only
    ("avx2 fma avx512f avx512bw avx512_vnni", False),          # AVX-512 without BF16 (Skylake/Cascade Lake)
    ("avx2 avx512f avx512_bf16", True),                        # Cooper Lake, Zen 4
    ("avx2 avx512f amx_tile amx_bf16", True),                  # Sapphire Rapids' AMX
    (None, False),                                             # no /proc/cpuinfo
])
def test_auto_precision_is_bfloat16_only_where_the_cpu_computes_it(cpu, flags, native, caplog):
    cpu(flags)
    with caplog.at_level(logging.INFO, logger="atomsight.device"):
        chosen = device.resolve_precision("auto")
    assert chosen == ("mixed_bfloat16" if native else "float32")
    assert "precision 'auto' resolved to" in caplog.text
    assert device.resolve_precision("float32") == "float32" and device.resolve_precision("mixed_bfloat16") == \
        "mixed_bfloat16"  # explicit choices are kept


def test_a_onednn_isa_cap_below_bf16_makes_auto_float32_and_a_network_keeps_its_own_precision_elsewhere(
        cpu, monkeypatch, caplog):
    cpu("avx2 avx512f avx512_bf16 amx_bf16")
    assert device.resolve_precision("auto", trained="float32") == "float32"
    assert device.resolve_precision("auto", trained="mixed_bfloat16") == "mixed_bfloat16"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    with caplog.at_level(logging.INFO, logger="atomsight.device"):
        assert device.resolve_precision("auto", trained="mixed_bfloat16") == "float32"
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in caplog.text and "trained in mixed_bfloat16" in caplog.text
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    assert device.resolve_precision("auto") == "mixed_bfloat16"
    with pytest.raises(ValueError, match="precision must be one of"):
        device.resolve_precision("float16")
