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
    assert "graphene: atom at 80 kV" in listed.stdout
    assert listed.stdout.rstrip().endswith("trained only on simulations made by atomsight")


def test_a_failing_command_exits_with_status_2_and_its_error(tmp_path):
    failed = atomsight("predict", str(tmp_path / "missing.tif"), "--model", "graphene", "--out", str(tmp_path))
    assert failed.returncode == 2
    assert "atomsight predict: error:" in failed.stderr and "missing.tif" in failed.stderr
