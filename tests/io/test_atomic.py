import json

import numpy as np
import pytest

from atomsight.io.atomic import atomic_path, write_json


def test_a_file_appears_only_when_complete(tmp_path):
    target = tmp_path / "a.json"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new" and list(tmp_path.iterdir()) == [target]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_a_folder_replaces_the_old_folder(tmp_path):
    target = tmp_path / "model"
    (target / "stale").mkdir(parents=True)
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "card").write_text("x")
    assert sorted(p.name for p in target.iterdir()) == ["card"]


def test_the_temporary_keeps_a_required_suffix(tmp_path):
    with atomic_path(tmp_path / "m.keras", suffix=".keras") as tmp:
        assert tmp.name.endswith(".keras")
        tmp.write_text("x")
    assert (tmp_path / "m.keras").exists()


def test_json_has_null_for_nan_and_numbers_for_numpy_scalars(tmp_path):
    path = write_json(tmp_path / "scores.json", {"rmse": float("nan"), "f1": np.float32(0.5), "cells": [np.int64(3)]})
    assert json.loads(path.read_text()) == {"rmse": None, "f1": 0.5, "cells": [3.0]}
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]
