"""The ``atomsight`` executable (``atomsight.cli.run``): its output and exit status survive its quick exit."""

from __future__ import annotations

import subprocess
import sys


def atomsight(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atomsight.cli", *arguments], capture_output=True, text=True,
                          timeout=300)


def test_the_executable_prints_everything_and_exits_with_the_command_status():
    listed = atomsight("models")
    assert listed.returncode == 0
    assert "graphene (the default for graphene): atom at 80 kV" in listed.stdout
    assert listed.stdout.rstrip().endswith("trained only on simulations made by atomsight")


def test_a_failing_command_exits_with_status_2_and_its_error(tmp_path):
    failed = atomsight("predict", str(tmp_path / "missing.tif"), "--model", "graphene", "--out", str(tmp_path / "o"))
    assert failed.returncode == 2
    assert "atomsight predict: skipped" in failed.stderr and "missing.tif" in failed.stderr
    assert not (tmp_path / "o").exists()  # nothing left behind, not even the folder
    failed = atomsight("predict", str(tmp_path), "--model", "no-such-model", "--out", str(tmp_path / "o"))
    assert failed.returncode == 2 and "atomsight predict: error:" in failed.stderr


def test_inputs_are_refused_before_tensorflow_loads(tmp_path):
    import numpy as np

    np.save(tmp_path / "coarse.npy", np.random.default_rng(0).normal(100, 10, (64, 64)))
    code = ("import sys; from atomsight.cli import main; status = main(sys.argv[1:]);"
            " print(status, 'tensorflow' in sys.modules)")
    ran = subprocess.run([sys.executable, "-c", code, "predict", str(tmp_path / "coarse.npy"), str(tmp_path / "no.tif"),
                          "--sampling", "2.49", "--model", "graphene", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=300)
    assert ran.stdout.split() == ["2", "False"]
    assert "coarse.npy: pixel size 2.49 Å differs from the model's training sampling" in ran.stderr
    assert "no.tif" in ran.stderr


def test_an_output_that_is_a_file_is_refused_before_the_model_loads(tmp_path):
    from atomsight.cli import main

    (tmp_path / "taken").write_text("")
    (tmp_path / "a.npy").write_bytes(b"")
    for out in (tmp_path / "taken", tmp_path / "taken" / "sub"):
        assert main(["predict", str(tmp_path / "a.npy"), "--model", "graphene", "--out", str(out)]) == 2


def test_a_bug_prints_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    from atomsight import cli

    def broken(args):
        raise KeyError("internal")

    monkeypatch.setattr(cli, "_models", broken)
    assert cli.main(["models"]) == 3
    err = capsys.readouterr().err
    assert "KeyError: 'internal'" in err and "internal error" in err and "please report it" in err

