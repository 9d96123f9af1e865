"""Worlds of points and sampled worlds: every training row a unit named by its row id, slices by class,
lattices chosen by size, labels beyond the alphabet, and a sampled world created without its 2^n nodes."""

import sqlite3

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from cfgraph import evaluate
from cfgraph.bitsets import MAX_SAMPLED_UNITS
from cfgraph.errors import CfgraphError
from cfgraph.grouping import group_rows
from cfgraph.lattice import unit_labels, unit_letters
from cfgraph.worlds import build_world, check_stored_spec, make_spec, prepare


def iris_split():
    """The split prepare makes of iris, by hand: stratified, 30% test, seed 0, over the original row ids."""
    y = load_iris().target
    return train_test_split(np.arange(len(y)), test_size=0.3, random_state=0, stratify=y)


# ------------------------------------------------------------------ point grouping

def test_every_iris_training_row_is_a_unit_named_by_its_original_row_id():
    train, test = iris_split()
    spec = make_spec(dataset="iris", group_by="point", units=None, model="gnb")
    assert (spec["lattice"], spec["units"], spec["eval_slices"]) == ("sampled", 105, "classes")
    p = prepare(spec)
    assert len(p.units) == len(train) == 105
    assert p.train_ids.tolist() == train.tolist() and p.test_ids.tolist() == test.tolist()
    assert [u.name for u in p.units] == [f"row {i}" for i in train]
    assert p.labels == [f"r{i}" for i in train]
    assert {u.size for u in p.units} == {1} and "row " in p.units[0].definition
    assert p.problem.train_unit.tolist() == list(range(105))
    # Unit k is exactly the dataset's row train[k].
    X = load_iris().data
    assert np.array_equal(p.problem.X_train, X[train])


def test_a_point_worlds_slices_are_every_test_row_and_each_class():
    _, test = iris_split()
    p = prepare(make_spec(dataset="iris", group_by="point", units=None))
    names = load_iris().target_names
    y = names[load_iris().target]
    assert [s.name for s in p.slices] == ["all"] + [f"class {c}" for c in names]
    assert [s.mask for s in p.slices] == [None] * 4  # a sampled world's full set has no 64-bit mask
    assert p.problem.slice_rows[0].tolist() == list(range(len(test)))
    for k, c in enumerate(names, start=1):
        assert y[test][p.problem.slice_rows[k]].tolist() == [c] * 15
        assert p.slices[k].size == 15 and p.slices[k].definition == f"test rows of class {c}"


def test_a_regression_point_world_has_one_slice():
    p = prepare(make_spec(dataset="diabetes", group_by="point", units=None))
    assert [s.name for s in p.slices] == ["all"] and len(p.units) == 442 - 133


def test_the_test_rows_of_a_point_grouping_belong_to_no_unit():
    y = np.array(["a", "b"] * 5)
    g = group_rows("point", 6, np.zeros((6, 1)), y[:6], np.zeros((4, 1)), y[:4], row_ids=[9, 0, 3, 8, 1, 5])
    assert g.test.tolist() == [-1] * 4 and g.train.tolist() == list(range(6))
    assert g.names[0] == "row 9" and g.labels is None  # letters while they last


def test_a_training_set_of_points_fits_exactly_its_rows():
    """A mask far beyond 64 bits picks the rows of its units, as a fit on those rows by hand would."""
    p = prepare(make_spec(dataset="iris", group_by="point", units=None, model="gnb"))
    chosen = [0, 3, 40, 70, 104]
    mask = sum(1 << k for k in chosen)
    assert np.flatnonzero(p.problem.training_rows(mask)).tolist() == chosen
    full = (1 << 105) - 1
    row, = evaluate.fit_node(p.problem, full, 0, [(0, "accuracy")])
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    by_hand = make_pipeline(StandardScaler(), GaussianNB()).fit(p.problem.X_train, p.problem.y_train)
    assert row["value"] == pytest.approx(by_hand.score(p.problem.X_test, p.problem.y_test), abs=1e-12)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(group_by="point", units=4), "the training split has 105 rows, so the number of units must be 105"),
    (dict(group_by="point", units=None, eval_slices="powerset"), "a point has no test rows of its own"),
    (dict(group_by="point", units=None, lattice="exhaustive"),
     "105 units (one per training row) is too many for an exhaustive lattice"),
    (dict(group_by="kmeans", units=17, lattice="exhaustive"), "use a sampler: cfgraph run --sampler tmc"),
    (dict(group_by="kmeans", units=20, eval_slices="powerset"), "2^n unions of units are too many"),
    (dict(group_by="random", units=MAX_SAMPLED_UNITS + 1), f"more than a sampled world allows ({MAX_SAMPLED_UNITS})"),
    (dict(group_by="random", units=4, lattice="lazy"), "exhaustive or sampled, not 'lazy'"),
])
def test_point_and_lattice_recipes_that_cannot_be_built_are_refused_in_one_line(kwargs, needle):
    with pytest.raises(CfgraphError) as caught:
        make_spec(dataset="iris", **kwargs)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


# ------------------------------------------------------------------ lattices chosen by size

def test_the_lattice_is_exhaustive_up_to_16_units_and_sampled_beyond():
    assert make_spec(dataset="iris", group_by="kmeans", units=16)["lattice"] == "exhaustive"
    beyond = make_spec(dataset="iris", group_by="kmeans", units=17)
    assert (beyond["lattice"], beyond["eval_slices"]) == ("sampled", "classes")
    small = make_spec(dataset="iris", group_by="random", units=3, lattice="sampled")
    assert (small["lattice"], small["eval_slices"]) == ("sampled", "classes")
    assert make_spec(dataset="iris", group_by="class", units=None)["lattice"] == "exhaustive"


def test_a_sampled_world_of_30_clusters_is_labelled_by_number_and_sliced_by_class():
    p = prepare(make_spec(dataset="iris", group_by="kmeans", units=30, model="gnb"))
    assert p.labels == [f"U{k}" for k in range(1, 31)] and p.sampled
    assert [s.name for s in p.slices] == ["all", "class setosa", "class versicolor", "class virginica"]
    assert sum(u.size for u in p.units) == 105


def test_a_tiny_csv_makes_an_exhaustive_point_world(store, tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text("x,label\n" + "".join(f"{k},{'ab'[k % 2]}\n" for k in range(8)))
    spec = make_spec(csv_path=str(path), target="label", group_by="point", units=None)
    assert (spec["lattice"], spec["units"], spec["eval_slices"]) == ("exhaustive", 5, "classes")  # 3 test rows
    p = prepare(spec)
    assert p.labels == unit_letters(5) and [u.name for u in p.units] == [f"row {i}" for i in p.train_ids]
    assert [(s.name, s.mask) for s in p.slices] == [("all", 31), ("class a", None), ("class b", None)]
    report = build_world(store, "tiny", spec, progress=False)
    assert report.fits == 32 and report.cells == 32 * 3
    with sqlite3.connect(store.sqlite_path) as conn:
        assert conn.execute("SELECT lattice FROM world WHERE name = 'tiny'").fetchone() == ("exhaustive",)


def test_a_stored_recipe_is_checked_against_its_own_lattice():
    assert check_stored_spec({"model": "gnb", "units": 1257, "lattice": "sampled"})["units"] == 1257
    for spec, needle in [({"model": "gnb", "units": 17}, "exhaustive lattice has 1 to 16"),
                         ({"model": "gnb", "units": MAX_SAMPLED_UNITS + 1, "lattice": "sampled"},
                          f"sampled lattice has 1 to {MAX_SAMPLED_UNITS}"),
                         ({"model": "gnb", "lattice": "lazy"}, "not exhaustive or sampled")]:
        with pytest.raises(CfgraphError, match=needle):
            check_stored_spec(spec)


def test_a_hand_edited_point_recipe_with_unit_slices_is_refused():
    spec = make_spec(dataset="iris", group_by="point", units=None)
    with pytest.raises(CfgraphError, match="slices its test rows by class"):
        prepare({**spec, "eval_slices": "units"})


def test_unit_labels_are_letters_up_to_26_then_numbers():
    assert unit_labels(26) == unit_letters(26)
    assert unit_labels(27) == [f"U{k}" for k in range(1, 28)]
    assert len(set(unit_labels(MAX_SAMPLED_UNITS))) == MAX_SAMPLED_UNITS
    with pytest.raises(CfgraphError):
        unit_labels(0)


# ------------------------------------------------------------------ building a sampled world

def test_a_sampled_digits_point_world_is_created_with_its_units_and_no_training_sets(store):
    spec = make_spec(dataset="digits", group_by="point", units=None, model="gnb")
    report = build_world(store, "digits-points", spec, progress=False)
    assert (report.fits, report.cells) == (0, 0)
    with sqlite3.connect(store.sqlite_path) as conn:
        lattice, n_units, world_id = conn.execute(
            "SELECT lattice, n_units, id FROM world WHERE name = 'digits-points'").fetchone()
        units = conn.execute("SELECT idx, label, name FROM unit WHERE world_id = ? ORDER BY idx",
                             (world_id,)).fetchall()
        nodes = conn.execute("SELECT COUNT(*) FROM node WHERE world_id = ?", (world_id,)).fetchone()[0]
        slices = [r[0] for r in conn.execute("SELECT name FROM eval_slice WHERE world_id = ? ORDER BY id",
                                             (world_id,))]
    train_ids = prepare(spec).train_ids
    assert (lattice, n_units, len(units), nodes) == ("sampled", 1257, 1257, 0)
    assert units[5] == (5, f"r{train_ids[5]}", f"row {train_ids[5]}")
    assert slices == ["all"] + [f"class {d}" for d in range(10)]
    # Resuming the same recipe is a no-op; another model is another recipe.
    assert build_world(store, "digits-points", spec, progress=False).fits == 0
    with pytest.raises(CfgraphError, match="different recipe"):
        build_world(store, "digits-points", {**spec, "model": "tree"}, progress=False)


def test_a_sampled_world_with_a_metric_the_task_cannot_score_is_refused_before_anything_is_stored(store):
    spec = make_spec(dataset="digits", group_by="point", units=None, model="gnb", metrics=["f1"])
    with pytest.raises(CfgraphError, match="two-class metric"):
        build_world(store, "bad", spec, progress=False)
    with sqlite3.connect(store.sqlite_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM world").fetchone() == (0,)
