"""Datasets: built-in tables, real-world CSVs (text, missing values, chosen columns), the task
inference rule, the encoder/imputer, and seed lists. Known values throughout; the worlds built
on them are tested in test_worlds.py."""

import math

import numpy as np
import pytest

from cfgraph.data import MISSING_GROUP, infer_task, load_builtin, load_csv, make_preprocessor
from cfgraph.errors import CfgraphError
from cfgraph.worlds import MAX_SEEDS, parse_seeds

#: Six rows: a numeric feature with gaps, a text feature with a gap, a free-text column, a site.
TABLE = """size,colour,comment,site,price
1.5,red,"fine, thanks",north,10.5
NA,blue,12,south,7.25
2.0,,ok,north,12.0
?,red,n/a,,9.75
3.5,green,"",south,20.5
nan,blue,lovely,north,8.0
"""


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text(TABLE)
    return path


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ the task

@pytest.mark.parametrize("values,task", [
    (["yes", "no", "yes"], "classification"),   # text
    (["1", "2", "x"], "classification"),        # any text makes labels
    (["0", "1", "1", "0"], "classification"),   # two whole numbers: a binary outcome
    (["-1", "1"], "classification"),
    (["0.5", "1", "2"], "regression"),          # a fractional part
    (["1e-3", "2", "2"], "regression"),
    ([str(k) for k in range(21)], "regression"),  # more than 20 whole numbers
    (["151.0", "75.0", "141.0"] * 7 + [str(k) for k in range(200, 220)], "regression"),
])
def test_task_inference_rule(values, task):
    assert infer_task(values) == task


@pytest.mark.parametrize("values", [["1", "2", "3"], [str(k % 20) for k in range(100)], ["7", "7.0"]])
def test_a_few_whole_numbers_are_ambiguous(values):
    with pytest.raises(CfgraphError, match="classification or regression"):
        infer_task(values)


def test_the_ambiguous_task_is_refused_naming_the_column_and_resolved_by_saying_it(tmp_path):
    path = write(tmp_path, "x,quality\n" + "".join(f"{k},{3 + k % 5}\n" for k in range(30)))
    with pytest.raises(CfgraphError, match=r"'quality' holds 5 distinct whole number\(s\) \(3, 4, 5, 6, 7\)"):
        load_csv(path, "quality")
    as_classes = load_csv(path, "quality", task="classification")
    assert as_classes.y.tolist()[:3] == ["3", "4", "5"]
    as_numbers = load_csv(path, "quality", task="regression")
    assert as_numbers.y.dtype == float and as_numbers.y[:3].tolist() == [3.0, 4.0, 5.0]


def test_a_regression_target_must_be_numbers_with_its_line(tmp_path):
    path = write(tmp_path, "x,y\n1,2.5\n2,high\n3,4\n")
    with pytest.raises(CfgraphError, match=r"line 3, column 'y': non-numeric value 'high'"):
        load_csv(path, "y", task="regression")
    with pytest.raises(CfgraphError, match="holds a single value"):
        load_csv(write(tmp_path, "x,y\n1,2.5\n2,2.5\n"), "y", task="regression")


def test_builtin_datasets_know_their_task():
    diabetes = load_builtin("diabetes")
    assert diabetes.task == "regression" and diabetes.X.shape == (442, 10)
    assert diabetes.y.dtype == float and diabetes.y[0] == 151.0 and diabetes.preprocessor is None
    assert load_builtin("wine").task == "classification"
    with pytest.raises(CfgraphError, match="iris is a classification dataset, not regression"):
        load_builtin("iris", "regression")
    with pytest.raises(CfgraphError, match="unknown dataset 'boston'"):
        load_builtin("boston")


# ------------------------------------------------------------------ real-world tables

def test_text_features_and_missing_values_are_read_as_they_are(table):
    data = load_csv(table, "price", "site", drop=["comment"])
    assert data.task == "regression" and data.y.tolist() == [10.5, 7.25, 12.0, 9.75, 20.5, 8.0]
    assert data.feature_names == ["size", "colour"] and data.categorical == [1]
    assert data.X.dtype == object
    size = data.X[:, 0].astype(float)
    np.testing.assert_array_equal(np.isnan(size), [False, True, False, True, False, True])  # NA, ?, nan
    assert size[[0, 2, 4]].tolist() == [1.5, 2.0, 3.5]
    colour = data.X[:, 1]
    assert colour[[0, 1, 3, 4]].tolist() == ["red", "blue", "red", "green"] and math.isnan(colour[2])
    assert data.groups.tolist() == ["north", "south", "north", MISSING_GROUP, "south", "north"]
    assert len(data.checksum) == 64


def test_a_column_that_is_not_a_feature_may_hold_anything(table):
    """comment mixes numbers and text: refused as a feature (with its line), fine when left out."""
    with pytest.raises(CfgraphError, match=r"line 3, column 'comment': numeric value '12' in a column of text"):
        load_csv(table, "price", "site")
    assert load_csv(table, "price", "site", drop=["comment"]).feature_names == ["size", "colour"]
    assert load_csv(table, "price", features=["colour"]).feature_names == ["colour"]


def test_features_are_chosen_in_the_given_order(table):
    data = load_csv(table, "price", features=["colour", "size"])
    assert data.feature_names == ["colour", "size"] and data.categorical == [0]
    assert data.groups is None


@pytest.mark.parametrize("kwargs,needle", [
    (dict(features=["size", "weight"]), "no column 'weight' among the features (columns: size, colour, comment"),
    (dict(drop=["weight"]), "no column 'weight' to drop"),
    (dict(features=["size"], drop=["comment"]), "not both"),
    (dict(features=["size", "price"]), "column 'price' is the target"),
    (dict(group_column="site", features=["site"]), "column 'site' is the grouping column"),
    (dict(drop=["size", "colour", "comment", "site"]), "no feature columns besides 'price'"),
])
def test_bad_column_choices_are_refused(table, kwargs, needle):
    with pytest.raises(CfgraphError) as caught:
        load_csv(table, "price", **kwargs)
    assert needle in str(caught.value)


@pytest.mark.parametrize("body,needle", [
    ("f,label\n1,a\nx,b\n3,b\n", "line 3, column 'f': non-numeric value 'x' in a column of numbers"),
    ("f,label\nred,a\n3,b\nblue,b\n", "line 3, column 'f': numeric value '3' in a column of text"),
    ("f,label\n1,a\ninf,b\n", "line 3, column 'f': inf is not a finite number"),
    ("f,g,label\n1,,a\n2,NA,b\n", "column 'g' has no value on any line"),
    ("f,label\n1,a\n2,\n", "line 3: missing target value in column 'label'"),
    ("f,label\n1,a\n2\n", "line 3 has 1 fields, the header has 2"),
    ("f,label\n1,a\n2,a\n", "single class"),
])
def test_bad_files_are_refused_in_one_line_with_the_line_number(tmp_path, body, needle):
    with pytest.raises(CfgraphError) as caught:
        load_csv(write(tmp_path, body), "label")
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_a_literal_missing_group_name_is_refused(tmp_path):
    path = write(tmp_path, "f,label,site\n1,a,x\n2,b,(missing)\n")
    with pytest.raises(CfgraphError, match=r"line 3: the group value '\(missing\)' is reserved"):
        load_csv(path, "label", "site")


def test_the_preprocessor_imputes_medians_and_encodes_categories_it_saw():
    """Fitted on three rows; a fourth row has a category never seen (all zeros) and a missing size."""
    X = np.array([[1.0, "red"], [5.0, np.nan], [2.0, "blue"]], dtype=object)
    pre = make_preprocessor(2, [1]).fit(X)
    out = pre.transform(np.array([[np.nan, "purple"], [4.0, "red"], [3.0, np.nan]], dtype=object))
    # columns: size (NaN -> median 2.0), then one-hot of (missing), blue, red in sorted order
    assert out.tolist() == [[2.0, 0.0, 0.0, 0.0], [4.0, 0.0, 0.0, 1.0], [3.0, 1.0, 0.0, 0.0]]


def test_numeric_tables_need_no_preprocessor_unless_a_value_is_missing(tmp_path):
    assert load_csv(write(tmp_path, "f,label\n1,a\n2,b\n"), "label").preprocessor is None
    gappy = load_csv(write(tmp_path, "f,label\n1,a\n,b\n3,b\n"), "label")
    assert gappy.X.dtype == float and gappy.preprocessor is not None
    assert gappy.preprocessor.fit_transform(gappy.X).ravel().tolist() == [1.0, 2.0, 3.0]


# ------------------------------------------------------------------ seeds

@pytest.mark.parametrize("text,seeds", [
    ("0", [0]), ("0-4", [0, 1, 2, 3, 4]), ("0,2,5-7", [0, 2, 5, 6, 7]), (" 7 , 3-3, 3 ", [3, 7]),
    ("4-6,5", [4, 5, 6]), (f"0-{MAX_SEEDS - 1}", list(range(MAX_SEEDS))),
])
def test_seeds_take_lists_and_ranges(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text,needle", [
    ("", "at least one seed"), (" , ", "at least one seed"), ("-1", "0 or more"), ("2--1", "0 or more"),
    ("5-3", "the range 5-3 runs backwards"), ("a", "'a' is not a seed or a range"),
    ("1-", "'1-' is not a seed"), ("1.5", "'1.5' is not a seed"),
    (f"0-{MAX_SEEDS}", f"more than {MAX_SEEDS} seeds"), ("0-999999999999999", "more than"),
    (f"0-{MAX_SEEDS - 1},{MAX_SEEDS + 5}", f"more than {MAX_SEEDS} seeds"),
])
def test_bad_seed_lists_are_refused_naming_the_input(text, needle):
    with pytest.raises(CfgraphError) as caught:
        parse_seeds(text)
    assert needle in str(caught.value) and f"seeds {text!r}" in str(caught.value)


@pytest.mark.parametrize("text", ["99999999999999999999", "4294967296", "0,4294967296", "4294967290-4294967299",
                                  "4294967296-4294967297"])
def test_seeds_beyond_random_states_range_are_refused(text):
    with pytest.raises(CfgraphError) as caught:
        parse_seeds(text)
    assert "up to 4294967295" in str(caught.value) and f"seeds {text!r}" in str(caught.value)


def test_the_largest_seed_is_a_seed():
    assert parse_seeds("4294967294-4294967295") == [4294967294, 4294967295]


def _numbers_csv(tmp_path, rows, header="x,y"):
    path = tmp_path / "n.csv"
    path.write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))
    return path


@pytest.mark.parametrize("rows,needle", [
    ([(i % 7, 1e300 * i) for i in range(1, 40)], "line 2, column 'y': 1e+300 is too large in magnitude"),
    ([(1e308 if i == 3 else i, i) for i in range(1, 40)], "line 4, column 'x': 1e+308 is too large"),
    ([(i, -1e150 if i == 10 else i * 0.5) for i in range(1, 40)], "line 11, column 'y': -1e+150 is too large"),
    ([(i, "1.5e101" if i == 1 else i * 0.5) for i in range(1, 40)], "line 2, column 'y': 1.5e101 is too large"),
])
def test_numbers_whose_square_overflows_are_refused_with_line_and_column(tmp_path, rows, needle):
    with pytest.raises(CfgraphError) as caught:  # and no RuntimeWarning: the suite turns warnings into errors
        load_csv(_numbers_csv(tmp_path, rows), "y", task="regression" if "'y'" in needle else None)
    assert needle in str(caught.value)


def test_numbers_up_to_the_limit_load(tmp_path):
    rows = [(1e100 if i == 1 else i, -1e100 if i == 2 else i * 0.5) for i in range(1, 40)]
    data = load_csv(_numbers_csv(tmp_path, rows), "y")
    assert data.task == "regression" and data.X[0, 0] == 1e100 and data.y[1] == -1e100


@pytest.mark.parametrize("stray,row", [("abc", 299), ("N.A.", 0), ("1,5", 150), ("twelve", 42)])
def test_a_target_of_numbers_with_stray_text_is_refused(tmp_path, stray, row):
    prices = [str(100 + 3 * i) for i in range(300)]
    prices[row] = stray
    path = tmp_path / "p.csv"
    path.write_text("x,price\n" + "".join(f'{i % 5},"{p}"\n' for i, p in enumerate(prices)))
    with pytest.raises(CfgraphError) as caught:
        load_csv(path, "price")
    message = str(caught.value)
    assert f"line {row + 2}, column 'price': text value {stray!r}" in message and "classification" in message
    data = load_csv(path, "price", task="classification")  # said explicitly: 300 classes are allowed
    assert data.task == "classification" and len(set(data.y)) == 300


def test_a_target_of_mostly_text_is_still_classes(tmp_path):
    labels = ["cat", "dog"] * 20 + ["3"]
    path = tmp_path / "t.csv"
    path.write_text("x,label\n" + "".join(f"{i},{lab}\n" for i, lab in enumerate(labels)))
    assert load_csv(path, "label").task == "classification"


@pytest.mark.parametrize("cell", ["1e-300", "-3e-101", "5e-200"])
def test_tiny_numbers_are_kept(tmp_path, cell):
    rows = [(cell if i == 4 else i, i * 0.5) for i in range(1, 40)]
    assert load_csv(_numbers_csv(tmp_path, rows), "y").X[3, 0] == float(cell)
