"""The results table: what the writer writes the reader reads back, with its sidecar; hand-made tables read too."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomsight.detections import COLUMNS, SPREAD_COLUMNS, Detections, Spread, read_table, sidecar, write_table

SAMPLING = 0.12  # [Å/pixel]


def detections(n, classes, seed=0):
    rng = np.random.default_rng(seed)
    class_probabilities = rng.dirichlet(np.ones(len(classes)), size=n)
    chosen = class_probabilities.argmax(axis=1)
    return Detections(positions=rng.uniform(0, 500, (n, 2)), classes=chosen,
                      probabilities=rng.uniform(0.3, 1.0, n), class_probabilities=class_probabilities)


def metadata():
    return sidecar(model={"name": "m", "folder": "/models/m", "sha256": "a" * 64},
                   settings={"method": "peaks", "threshold": 0.3}, version="0.1.0",
                   image={"source": "x.tif", "frame": None, "shape": [512, 512, 1], "sampling_A": SAMPLING,
                          "sampling_source": "the file's calibration"})


@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 30), n_classes=st.integers(1, 4), spread=st.booleans())
def test_what_is_written_reads_back(tmp_path_factory, n, n_classes, spread):
    path = tmp_path_factory.mktemp("table") / "x.csv"
    classes = [f"column-{k + 1}" for k in range(n_classes)]
    found = detections(n, classes)
    pixels = found.positions / 2.0
    sigma = np.where(np.arange(n)[:, None] % 3 == 0, np.nan, 0.05 + np.zeros((n, 2)))
    spread_of = Spread(sigma=sigma, count=np.arange(n) % 9) if spread else None
    written = write_table(path, pixels=pixels, detections=found, sampling=SAMPLING, classes=classes,
                          spread=spread_of, metadata=metadata())
    assert written == [path, path.with_suffix(".json")]
    table = read_table(path)
    assert len(table) == n
    np.testing.assert_allclose(table.xy, pixels * SAMPLING, atol=5e-5)  # 4 decimals of Å
    np.testing.assert_allclose(table.pixels, pixels, atol=5e-4)  # 3 decimals of a pixel
    assert table.classes == [classes[c] for c in found.classes]
    np.testing.assert_allclose(table.probability, found.probabilities, atol=5e-5)
    if n_classes > 1:
        assert list(table.class_probabilities) == classes
        np.testing.assert_allclose(np.column_stack(list(table.class_probabilities.values())),
                                   found.class_probabilities, atol=5e-5)
    else:
        assert table.class_probabilities is None
    if spread:
        np.testing.assert_allclose(table.sigma, sigma * SAMPLING, atol=5e-5)  # NaN (unknown) written empty
        np.testing.assert_array_equal(table.count, np.arange(n) % 9)
    else:
        assert table.sigma is None and table.count is None
    assert table.metadata == {**json.loads(json.dumps(metadata())), "detections": n}


def test_the_header_names_the_class_columns_only_for_several_classes(tmp_path):
    for classes, extra in ((["atom"], []), (["column-1", "column-2+"], ["p_column-1", "p_column-2+"])):
        path = write_table(tmp_path / "t.csv", pixels=np.zeros((1, 2)), detections=detections(1, classes),
                           sampling=SAMPLING, classes=classes, metadata=metadata(), spread=None)[0]
        assert path.read_text().splitlines()[0].split(",") == [*COLUMNS, *extra]
    header = write_table(tmp_path / "s.csv", pixels=np.zeros((1, 2)), detections=detections(1, ["atom"]),
                         sampling=SAMPLING, classes=["atom"], metadata=metadata(),
                         spread=Spread(np.zeros((1, 2)), np.ones(1, int)))[0].read_text().splitlines()[0]
    assert header.split(",") == [*COLUMNS, *SPREAD_COLUMNS]


def test_a_hand_made_table_needs_only_positions_and_may_give_unknown_sigma_as_nan(tmp_path):
    (tmp_path / "mine.csv").write_text("x_A,y_A,sigma_x_A,sigma_y_A,notes\n1.0,2.0,0.1,nan,a\n3.0,4.0,,0.2,b\n")
    table = read_table(tmp_path / "mine.csv")
    np.testing.assert_array_equal(table.xy, [[1.0, 2.0], [3.0, 4.0]])
    assert np.isnan(table.sigma[0, 1]) and np.isnan(table.sigma[1, 0]) and table.sigma[1, 1] == 0.2
    assert table.classes is None and table.probability is None and table.metadata is None


def test_an_empty_table_reads_as_nothing_found(tmp_path):
    (tmp_path / "none.csv").write_text(",".join(COLUMNS) + "\n")
    table = read_table(tmp_path / "none.csv")
    assert len(table) == 0 and table.xy.shape == (0, 2)


@pytest.mark.parametrize(("content", "message"), [
    ("row,col\n1,2\n", "expected columns x_A, y_A"),
    ("x_A,y_A,sigma_x_A\n1,2,0.1\n", "both sigma_x_A and sigma_y_A"),
    ("x_A,y_A\n1,oops\n", "row 1, column y_A: expected a number"),
    ("x_A,y_A\n1,inf\n", "row 1, column y_A: expected a finite number"),
    ("x_A,y_A,sigma_x_A,sigma_y_A\n1,2,-0.1,0.1\n", "must be >= 0"),
])
def test_bad_tables_are_refused_naming_the_file(tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        read_table(tmp_path / "bad.csv")
    assert str(tmp_path / "bad.csv") in str(error.value)


def test_a_sidecar_that_is_not_json_is_named(tmp_path):
    (tmp_path / "t.csv").write_text("x_A,y_A\n1,2\n")
    (tmp_path / "t.json").write_text("{")
    with pytest.raises(ValueError, match=r"t.json: the sidecar of t.csv is not valid JSON"):
        read_table(tmp_path / "t.csv")


def test_a_table_holding_a_position_twice_is_refused_naming_the_rows(tmp_path):
    from atomsight.detections import check_distinct, read_table

    path = tmp_path / "twice.csv"
    path.write_text("x_A,y_A\n1.0,1.0\n3.0,1.0\n1.0,1.01\n")
    with pytest.raises(ValueError, match=r"twice.csv: rows 0 and 2 \(counting from 0\) lie 0.010 Å apart, 1 pair"):
        check_distinct(read_table(path))
    path.write_text("x_A,y_A\n1.0,1.0\n3.0,1.0\n")
    check_distinct(read_table(path))
