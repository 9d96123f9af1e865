"""Variant worlds on real scikit-learn data with fixed seeds: corruption, synthetic data, poisoning,
differential privacy, weighting and unlearning, built from the Python API and the command line.

The shared parent is the conftest's ``iris`` world (4 KMeans units, Gaussian naive Bayes,
40% test split); settings that need another grouping build their own small world.
"""

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cfgraph.cli import main
from cfgraph.store import open_store
from cfgraph.store.catalog import create_world, get_world
from cfgraph.tables import SliceSpec, UnitSpec
from cfgraph.variants import (
    build_variant,
    list_variants,
    rebuild_variant,
    reports,
    variant_pair,
)
from cfgraph.variants.synthetic import synthesize
from cfgraph.worlds import build_world, make_spec


def invoke(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def snapshot(db):
    """Every row of every table, to check that a refused recipe stored nothing."""
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


def pair(store, name):
    with store.session() as session:
        return variant_pair(session, name)


def world_of(store, parent, **spec):
    """A small trained iris world (gnb, 40% test) with another grouping."""
    base = dict(dataset="iris", model="gnb", seed=0, test_size=0.4)
    build_world(store, parent, make_spec(**{**base, **spec}), progress=False)
    return parent


# ------------------------------------------------------------------ corruption

def test_full_label_noise_on_a_needed_unit_lowers_its_slice(store):
    """Setting: iris grouped by class (3 units, gnb). Unit B holds every training row of class
    versicolor, so it is needed for slice B; flipping all of B's labels leaves no versicolor
    example, and every training set containing B scores lower on slice B than in the parent."""
    world_of(store, "iris-class", group_by="class", units=None)
    report = build_variant(store, "iris-class", {"kind": "corrupt", "units": ["B"], "labels": 1.0})
    assert report.run.fits == 4 and report.copied == 4 * 4  # sets without B are copied, not refitted
    p = pair(store, report.name)
    b = p.parent.slice_index("B")
    with_b = [m for m in range(8) if m & 0b010]
    without_b = [m for m in range(8) if not m & 0b010]
    assert (p.values[with_b, b] < p.base[with_b, b]).all()
    assert p.values[0b111, b] == 0.0 and p.base[0b111, b] > 0.9
    np.testing.assert_array_equal(p.values[without_b], p.base[without_b])
    # the same comparison through the SQL view
    with store.session() as session:
        rows = session.execute(text(
            "SELECT train_set, delta FROM variant_delta WHERE world = :w AND eval_slice = 'B' ORDER BY train_set"
        ), {"w": report.name}).all()
    assert len(rows) == 8
    assert all((d < 0) == ("B" in t) for t, d in rows)


def test_zero_noise_reproduces_the_parent_cells_exactly(iris_store):
    report = build_variant(iris_store, "iris", {"kind": "corrupt", "units": ["B", "C"], "labels": 0.0,
                                                "features": 0.0})
    assert report.run.fits == 12  # every set with B or C was refitted on the unchanged data
    p = pair(iris_store, report.name)
    np.testing.assert_array_equal(p.values, p.base)
    np.testing.assert_array_equal(p.variant.status, p.parent.status)


def test_feature_noise_changes_only_sets_with_the_unit(iris_store):
    report = build_variant(iris_store, "iris", {"kind": "corrupt", "units": ["A"], "features": 2.0, "seed": 3})
    p = pair(iris_store, report.name)
    with_a = np.arange(16) & 1 == 1
    assert not np.array_equal(p.values[with_a], p.base[with_a])
    np.testing.assert_array_equal(p.values[~with_a], p.base[~with_a])


# ------------------------------------------------------------------ synthetic replacement

def test_synthetic_replacement_keeps_size_and_classes(iris_store):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (20, 3)), rng.normal(5, 1, (15, 3))])
    y = np.array([0] * 20 + [1] * 15)
    out, notes = synthesize(X, y, components=2, covariance="full", seed=1)
    assert out.shape == X.shape and not notes
    assert np.abs(out[y == 1].mean(axis=0) - 5).max() < 1
    assert not np.isin(out, X).any()  # every row is a new sample
    report = build_variant(iris_store, "iris", {"kind": "synthetic", "units": ["D"]})
    p = pair(iris_store, report.name)
    assert report.run.fits == 8
    with iris_store.session() as session:
        units = get_world(session, report.name).units
        assert [u.size for u in units] == [u.size for u in get_world(session, "iris").units]
    assert not np.isnan(p.values).any()


# ------------------------------------------------------------------ poisoning

def test_poison_has_the_lowest_shapley_value_and_a_negative_attack_delta(iris_store):
    """Flipped copies of unit B's rows, labelled as the nearest other class, become unit E."""
    report = build_variant(iris_store, "iris", {"kind": "poison", "unit": "B"})
    p = pair(iris_store, report.name)
    assert p.variant.letters == ["A", "B", "C", "D", "E"]
    assert report.run.fits == 16 and report.copied == 16 * 5
    np.testing.assert_array_equal(p.values, p.base)  # sets without P are the parent's
    with iris_store.session() as session:
        rows = {r["slice"]: r for r in reports.poison_rows(session, report.name)}
    b = rows["B"]
    assert b["p_lowest"] and b["shapley_p"] < b["shapley_lowest_honest"]
    assert b["attack_mean"] < 0 and b["attack_worst"] < 0


def test_poison_that_would_exceed_sixteen_units_is_refused_and_stores_nothing(tmp_path):
    db = tmp_path / "big.db"
    store = open_store(db)
    with store.transaction() as session:  # a trained world of 16 units (no cells needed to refuse)
        create_world(session, "big", kind="trained", units=[UnitSpec(name=f"u{i}") for i in range(16)],
                             slices=[SliceSpec(name="all")], metric="accuracy", eval_slices="units",
                             spec={"dataset": "iris"})
    store.close()
    before = snapshot(db)
    result = invoke(db, "variant", "poison", "big", "--unit", "B")
    assert_refused(result, "would give 17 units")
    assert snapshot(db) == before


# ------------------------------------------------------------------ differential privacy

def test_dp_large_epsilon_approaches_the_parent_and_small_epsilons_cost_accuracy(iris_store):
    names = [build_variant(iris_store, "iris", {"kind": "dp", "epsilon": e}).name for e in (0.1, 1.0, 1e6)]
    with iris_store.session() as session:
        rows = reports.dp_rows(session, names)
        models = {w["name"]: w["model"] for w in list_variants(session, "iris")}
    assert models[names[0]].startswith("diffprivlib.models.GaussianNB(epsilon=0.1, bounds=(0.0, 1.0))")
    tiny, one, huge = rows
    assert huge["mean_abs_delta"] < 0.01
    assert tiny["mean"] < one["mean"] < huge["mean"]
    assert tiny["mean_delta"] < 0 and one["mean_delta"] < 0


def test_dp_logistic_regression_trains_with_scikit_learn_1_8(store):
    world_of(store, "iris-lr", group_by="random", units=2, model="logreg")
    report = build_variant(store, "iris-lr", {"kind": "dp", "epsilon": 1e6})
    assert report.run.failed == 0
    p = pair(store, report.name)
    assert np.abs(p.delta).mean() < 0.15  # a different (unscaled, OvR) model, close at huge epsilon


# ------------------------------------------------------------------ weighting

def test_weight_one_reproduces_s_plus_i_and_weight_to_zero_approaches_s(store):
    """Setting: iris in 4 random units (gnb), so unit B brings no class the others lack; at
    S = empty the weight is scale-free (the model sees only B's rows), so that edge is excluded."""
    world_of(store, "iris-random", group_by="random", units=4)
    one = build_variant(store, "iris-random", {"kind": "weight", "unit": "B", "weight": 1.0})
    small = build_variant(store, "iris-random", {"kind": "weight", "unit": "B", "weight": 1e-6})
    p1, p0 = pair(store, one.name), pair(store, small.name)
    np.testing.assert_allclose(p1.values, p1.base, atol=1e-12)
    with store.session() as session:
        weights, rows = reports.weight_rows(session, [one.name, small.name], "all")
    assert weights == [0.0, 1e-6, 1.0]
    for row in rows:
        if row["from"] != "∅":
            assert abs(row["w=1e-06"] - row["w=0"]) <= 0.02, row
    every = np.arange(16)
    s = every[(every & 0b10 == 0) & (every > 0)]
    assert np.abs(p0.values[s | 0b10] - p0.base[s]).max() <= 0.02


# ------------------------------------------------------------------ unlearning

def test_exact_removal_has_gap_zero_and_the_approximate_gap_is_reported(iris_store):
    exact = build_variant(iris_store, "iris", {"kind": "unlearn", "unit": "C", "method": "exact"})
    sisa = build_variant(iris_store, "iris", {"kind": "unlearn", "unit": "C", "method": "sisa"})
    assert exact.run.fits == 8  # exact retraining really happened, nothing copied for sets without C
    with iris_store.session() as session:
        per_slice, per_unit = reports.unlearn_rows(session, [exact.name, sisa.name], tolerance=0.15)
    assert all(r["max_gap"] == 0.0 and r["passed"] for r in per_slice if r["method"] == "exact")
    approx = [r for r in per_slice if r["method"] == "sisa"]
    assert all(r["max_gap"] is not None and r["passed"] == (r["max_gap"] <= 0.15) for r in approx)
    assert per_unit[1]["passed"] == all(r["passed"] for r in approx)
    # at sets that contain C nothing was removed: the parent's cells
    p = pair(iris_store, sisa.name)
    with_c = np.arange(16) & 0b100 != 0
    np.testing.assert_array_equal(p.values[with_c], p.base[with_c])


def test_warm_started_removal_on_logistic_regression(store):
    world_of(store, "iris-lr", group_by="random", units=3, model="logreg")
    report = build_variant(store, "iris-lr", {"kind": "unlearn", "unit": "A", "method": "warmstart",
                                              "iterations": 2})
    with store.session() as session:
        per_slice, _ = reports.unlearn_rows(session, [report.name])
    assert report.run.failed == 0 and all(r["max_gap"] is not None for r in per_slice)


# ------------------------------------------------------------------ lineage, resume, rebuild

def test_variants_record_parent_and_recipe_and_rebuild_to_the_same_cells(iris_store):
    report = build_variant(iris_store, "iris", {"kind": "corrupt", "units": ["B"], "labels": 0.5, "seed": 4})
    assert report.name == "iris~corrupt-B-labels0.5-seed4"
    again = build_variant(iris_store, "iris", {"kind": "corrupt", "units": ["B"], "labels": 0.5, "seed": 4})
    assert again.run.fits == 0 and again.copied == 0  # resumed: nothing left to do
    before = pair(iris_store, report.name).values
    rebuilt = rebuild_variant(iris_store, report.name)
    assert rebuilt.run.fits == 8
    np.testing.assert_array_equal(pair(iris_store, report.name).values, before)
    with iris_store.session() as session:
        world = get_world(session, report.name)
        assert world.kind == "variant" and world.recipe == {"kind": "corrupt", "units": ["B"], "labels": 0.5,
                                                            "features": 0.0, "seed": 4}
        assert world.parent_world_id == get_world(session, "iris").id
    with pytest.raises(Exception, match="different recipe"):
        build_variant(iris_store, "iris", {"kind": "corrupt", "units": ["B"], "labels": 0.6}, name=report.name)


# ------------------------------------------------------------------ command line

def assert_refused(result, needle):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert needle in lines[0], lines[0]


@pytest.fixture
def db(iris_db, tmp_path):
    import shutil

    target = tmp_path / "variants.db"
    shutil.copy(iris_db, target)
    return target


@pytest.mark.parametrize("args,needle", [
    (["variant", "corrupt", "iris", "--unit", "Z", "--labels", "0.3"], "unknown unit 'Z'"),
    (["variant", "corrupt", "iris", "--unit", "B", "--labels", "1.5"], "must be in [0, 1]"),
    (["variant", "corrupt", "iris", "--unit", "B", "--labels", "-0.1"], "must be in [0, 1]"),
    (["variant", "dp", "iris", "--epsilons", "1,0"], "epsilon must be in (0, inf)"),
    (["variant", "dp", "iris", "--epsilons", "-2"], "epsilon must be in (0, inf)"),
    (["variant", "weight", "iris", "--unit", "B", "--weights", "0.5,0"], "weight w must be in (0, 1]"),
    (["variant", "poison", "iris", "--unit", "Q"], "unknown unit 'Q'"),
    (["variant", "unlearn", "iris", "--unit", "B", "--method", "warmstart"], "warm_start"),
    (["variant", "corrupt", "toy", "--unit", "B", "--labels", "0.3"], "variants derive from trained worlds"),
    (["budget", "iris", "--prices", "2,3,4,5", "--budget", "1"], "buys no unit"),
    (["budget", "iris", "--prices", "A=1,B=2", "--budget", "3"], "no price for unit(s) C, D"),
    (["envelope", "iris", "--epsilon", "0"], "epsilon must be a finite number > 0"),
    (["strike", "iris", "--coalition", "BZ"], "unknown unit 'Z'"),
    (["variant", "delta", "iris"], "not a variant"),
    (["variant", "weight", "iris", "--unit", "B", "--weights", "0.5", "--slice", "Z"], "no evaluation slice 'Z'"),
    (["variant", "unlearn", "iris", "--unit", "B", "--tolerance", "-1"], "--tolerance must be"),
    (["variant", "dp", "iris", "--epsilons", "1", "--jobs", "0"], "--jobs must be"),
    # --replace only ever replaces a variant: never the imported toy grid or a trained world.
    (["variant", "corrupt", "iris", "--unit", "B", "--labels", "0.5", "--name", "toy", "--replace"],
     "is an imported world, not a variant"),
    (["variant", "corrupt", "iris", "--unit", "B", "--labels", "0.5", "--name", "iris", "--replace"],
     "is a trained world, not a variant"),
    (["variant", "corrupt", "iris", "--unit", "B", "--labels", "0.5", "--name", "a/b"], "may not contain '/'"),
    (["envelope", "iris", "--epsilon", "abc"], "'abc' is not a valid float"),
])
def test_bad_recipes_exit_2_in_one_line_and_store_nothing(db, args, needle):
    before = snapshot(db)
    assert_refused(invoke(db, *args), needle)
    assert snapshot(db) == before


def test_a_parent_with_variants_is_not_replaced_from_under_them(db):
    assert invoke(db, "variant", "corrupt", "iris", "--unit", "B", "--labels", "0.3").exit_code == 0
    before = snapshot(db)
    assert_refused(invoke(db, "run", "--dataset", "iris", "--world", "iris", "--model", "tree", "--replace"),
                   "variant world(s)")
    assert snapshot(db) == before


def test_missing_cells_are_named_by_their_training_sets(db):
    assert_refused(invoke(db, "strike", "toy", "--coalition", "BC", "--slice", "B"), "missing cell(s): AD")


def test_cli_builds_variants_and_answers_strike_budget_envelope(db):
    result = invoke(db, "variant", "corrupt", "iris", "--unit", "B", "--labels", "0.3", "--format", "json")
    assert result.exit_code == 0, result.output
    grid = json.loads(result.stdout)
    assert len(grid) == 16 and set(grid[0]) == {"train_set", "A", "B", "C", "D", "all"}
    result = invoke(db, "variant", "weight", "iris", "--unit", "C", "--weights", "0.5,1", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 8
    listed = json.loads(invoke(db, "variant", "list", "iris", "--format", "json").stdout)
    assert [r["move"] for r in listed] == ["corrupt B labels 30%", "weight C 0.5", "weight C 1"]
    strike = invoke(db, "strike", "iris", "--coalition", "BC", "--order", "CB", "--format", "json")
    assert strike.exit_code == 0, strike.output
    table = json.loads(invoke(db, "budget", "iris", "--prices", "A=1,B=2,C=1,D=3", "--budget", "3",
                              "--format", "json").stdout)
    assert table[0]["method"] == "best (exact)" and table[0]["cost"] <= 3
    assert table[1]["gap"] >= 0 and table[2]["gap"] >= 0
    env = json.loads(invoke(db, "envelope", "iris", "--epsilon", "2", "--format", "json").stdout)
    assert all(r["laplace_scale"] == pytest.approx(r["sensitivity"] / 2) for r in env)
    sql = invoke(db, "sql", "SELECT COUNT(*) AS n FROM variant_delta WHERE world = 'iris~corrupt-B-labels0.3'",
                 "--format", "json")
    assert json.loads(sql.stdout) == [{"n": 16 * 5}]


# ------------------------------------------------------------------ regression worlds

#: A small regression parent: diabetes in 3 random units, ridge, r2 (8 fits).
DIABETES_SPEC = dict(dataset="diabetes", group_by="random", units=3, model="ridge", metrics=["r2"], test_size=0.3)


@pytest.fixture(scope="module")
def diabetes_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("diabetes") / "cfgraph.db"
    s = open_store(path)
    build_world(s, "dia", make_spec(**DIABETES_SPEC), progress=False)
    s.close()
    return path


@pytest.fixture
def dia_db(diabetes_db, tmp_path):
    import shutil

    target = tmp_path / "dia.db"
    shutil.copy(diabetes_db, target)
    return target


@pytest.fixture
def dia_store(dia_db):
    s = open_store(dia_db)
    yield s
    s.close()


@pytest.fixture
def text_db(tmp_path):
    """A regression world on a CSV with a text column and missing values."""
    rng = np.random.default_rng(1)
    lines = ["size,colour,price"] + [
        f"{'' if k % 6 == 0 else round(rng.uniform(0, 9), 3)},{['red', 'blue', 'green'][k % 3]},{k % 17 + 0.5}"
        for k in range(60)]
    path = tmp_path / "shop.csv"
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "text.db"
    s = open_store(db)
    build_world(s, "shop", make_spec(csv_path=str(path), target="price", group_by="random", units=2,
                                     model="linear"), progress=False)
    s.close()
    return db


@pytest.mark.parametrize("args,needle", [
    (["variant", "corrupt", "dia", "--unit", "B", "--labels", "0.3"],
     "label noise works on classes, and this world is a regression task"),
    (["variant", "poison", "dia", "--unit", "A"], "works on classes, and this world is a regression task"),
    (["variant", "unlearn", "dia", "--unit", "A", "--method", "warmstart"], "warm_start"),
    (["variant", "dp", "dia", "--epsilons", "0"], "epsilon must be in (0, inf)"),
])
def test_regression_variants_that_need_classes_are_refused_and_store_nothing(dia_db, args, needle):
    before = snapshot(dia_db)
    assert_refused(invoke(dia_db, *args), needle)
    assert snapshot(dia_db) == before


@pytest.mark.parametrize("args,needle", [
    (["variant", "synthetic", "shop", "--unit", "A"], "needs numeric features with no missing value"),
    (["variant", "dp", "shop", "--epsilons", "1"], "this world's table has text columns"),
    (["variant", "corrupt", "shop", "--unit", "A", "--labels", "0.5"], "label noise works on classes"),
])
def test_variants_that_need_raw_numbers_refuse_a_table_with_text(text_db, args, needle):
    before = snapshot(text_db)
    assert_refused(invoke(text_db, *args), needle)
    assert snapshot(text_db) == before


def test_dp_of_a_regression_model_without_a_private_counterpart_is_refused(store):
    build_world(store, "dia-tree", make_spec(**{**DIABETES_SPEC, "model": "tree"}), progress=False)
    with pytest.raises(Exception, match="DP variants of a regression world support parents trained with linear, ridge"):
        build_variant(store, "dia-tree", {"kind": "dp", "epsilon": 1.0})


def test_feature_noise_on_a_regression_world_changes_only_sets_with_the_unit(dia_store):
    report = build_variant(dia_store, "dia", {"kind": "corrupt", "units": ["B"], "features": 1.0, "seed": 2})
    assert report.run.fits == 4 and report.copied == 4 * 4
    p = pair(dia_store, report.name)
    with_b = np.arange(8) & 0b10 != 0
    assert (np.abs(p.values[with_b] - p.base[with_b]) > 1e-6).all()
    np.testing.assert_array_equal(p.values[~with_b], p.base[~with_b])


def test_feature_noise_leaves_text_columns_and_missing_values_alone(text_db):
    from cfgraph.variants import corruption
    from cfgraph.worlds import prepare

    with open_store(text_db).session() as session:
        spec = dict(get_world(session, "shop").spec)
    prepared = prepare(spec)
    derived = corruption.derive(prepared, {"kind": "corrupt", "units": ["A"], "labels": 0.0, "features": 2.0,
                                           "seed": 0}, ["A", "B"])
    before, after = prepared.problem.X_train, derived.problem.X_train
    in_a = prepared.problem.train_unit == 0
    np.testing.assert_array_equal(after[:, 1], before[:, 1])  # colour: text, untouched
    size_before, size_after = before[:, 0].astype(float), after[:, 0].astype(float)
    np.testing.assert_array_equal(np.isnan(size_after), np.isnan(size_before))  # missing stays missing
    present = ~np.isnan(size_before)
    assert (size_after[in_a & present] != size_before[in_a & present]).all()
    np.testing.assert_array_equal(size_after[~in_a], size_before[~in_a])


def test_synthetic_replacement_of_a_regression_unit_samples_features_and_targets(dia_store):
    from cfgraph.variants import synthetic
    from cfgraph.worlds import prepare

    prepared = prepare(make_spec(**DIABETES_SPEC))
    derived = synthetic.derive(prepared, {"kind": "synthetic", "units": ["A"], "components": 1,
                                          "covariance": "diag", "seed": 0}, ["A", "B", "C"])
    in_a = prepared.problem.train_unit == 0
    old_y, new_y = prepared.problem.y_train, derived.problem.y_train
    assert not np.isin(new_y[in_a], old_y).any()  # new targets, sampled
    np.testing.assert_array_equal(new_y[~in_a], old_y[~in_a])
    assert abs(new_y[in_a].mean() - old_y[in_a].mean()) < 0.5 * old_y[in_a].std()
    report = build_variant(dia_store, "dia", {"kind": "synthetic", "units": ["A"]})
    assert report.run.fits == 4 and report.run.failed == 0


def test_dp_linear_regression_at_huge_epsilon_approaches_the_parent(dia_store):
    names = [build_variant(dia_store, "dia", {"kind": "dp", "epsilon": e}).name for e in (1.0, 1e6)]
    with dia_store.session() as session:
        small, huge = reports.dp_rows(session, names)
        models = {w["name"]: w["model"] for w in list_variants(session, "dia")}
    assert models[names[1]].startswith("diffprivlib.models.LinearRegression(epsilon=1000000.0, bounds_X=(0.0, 1.0), "
                                       "bounds_y=(")
    assert huge["mean_abs_delta"] < 0.05  # least squares without the ridge penalty, at no privacy
    assert small["mean"] < huge["mean"]


def test_weight_one_on_a_regression_world_reproduces_the_parent(dia_store):
    report = build_variant(dia_store, "dia", {"kind": "weight", "unit": "C", "weight": 1.0})
    p = pair(dia_store, report.name)
    np.testing.assert_allclose(p.values, p.base, atol=1e-12)


def test_exact_unlearning_on_a_regression_world_has_gap_zero(dia_store):
    report = build_variant(dia_store, "dia", {"kind": "unlearn", "unit": "B", "method": "exact"})
    assert report.run.fits == 4
    with dia_store.session() as session:
        per_slice, _ = reports.unlearn_rows(session, [report.name])
    assert [r["max_gap"] for r in per_slice] == [0.0] * 4


def test_strike_budget_and_envelope_read_a_regression_lattice(dia_db):
    grid = {(r[0], r[1]): r[2] for r in sqlite3.connect(dia_db).execute(
        "SELECT train_mask, eval_slice, value FROM grid WHERE world = 'dia'")}
    env = json.loads(invoke(dia_db, "envelope", "dia", "--epsilon", "2", "--format", "json").stdout)
    for row in env:
        edges = [abs(grid[(m | 1 << i, row["slice"])] - grid[(m, row["slice"])])
                 for m in range(8) for i in range(3) if not m >> i & 1]
        assert row["sensitivity"] == pytest.approx(max(edges), abs=1e-12)
    out = invoke(dia_db, "strike", "dia", "--coalition", "AB", "--format", "json").stdout
    strike, _ = json.JSONDecoder().raw_decode(out)  # the path, then the extremes
    assert [r["train_set"] for r in strike] == ["ABC", "BC", "C"]
    assert strike[-1]["value"] == pytest.approx(grid[(0b100, "all")], abs=1e-12)  # only C is left
    budget = json.loads(invoke(dia_db, "budget", "dia", "--prices", "1,1,1", "--budget", "1", "--format",
                               "json").stdout)
    assert budget[0]["value"] == pytest.approx(max(grid[(1 << i, "all")] for i in range(3)), abs=1e-12)


# ------------------------------------------------------------------ regression unlearning

def test_sisa_on_a_regression_world_averages_the_shards_ridge_predictions(dia_db):
    """Setting: the diabetes parent (3 random units, ridge, r2). SISA removal of B from ABC leaves
    the shards of A and C; its cell at AC is, on every slice, r2 of the mean of the two shard
    ridges' predictions on the slice's rows, computed here with scikit-learn alone."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cfgraph.worlds import prepare

    result = invoke(dia_db, "variant", "unlearn", "dia", "--unit", "B", "--method", "sisa", "--format", "json")
    assert result.exit_code == 0, result.output
    problem = prepare(make_spec(**DIABETES_SPEC)).problem
    shards = [make_pipeline(StandardScaler(), Ridge()).fit(problem.X_train[problem.train_unit == k],
                                                           problem.y_train[problem.train_unit == k])
              for k in (0, 2)]
    mean_prediction = (shards[0].predict(problem.X_test) + shards[1].predict(problem.X_test)) / 2
    by_hand = [r2_score(problem.y_test[rows], mean_prediction[rows]) for rows in problem.slice_rows]
    s = open_store(dia_db)
    p = pair(s, "dia~unlearn-B-sisa")
    s.close()
    np.testing.assert_allclose(p.values[0b101], by_hand, rtol=0, atol=1e-12)
    assert np.abs(p.values[0b101] - p.base[0b101]).max() > 0.01  # not exact retraining on AC


def test_sisa_on_a_regression_world_with_one_shard_or_none_is_exact_retraining(dia_store):
    """Removing A from AB, AC or A leaves one shard (B, C) or none (the empty set's baseline):
    nothing is aggregated, so those cells are the parent's exact retraining; sets with A are copied."""
    report = build_variant(dia_store, "dia", {"kind": "unlearn", "unit": "A", "method": "sisa"})
    assert report.run.failed == 0 and report.run.statuses.get("baseline") == 4
    p = pair(dia_store, report.name)
    single = [0b000, 0b010, 0b100]
    np.testing.assert_allclose(p.values[single], p.base[single], rtol=0, atol=1e-12)
    with_a = np.arange(8) & 1 != 0
    np.testing.assert_array_equal(p.values[with_a], p.base[with_a])
    assert np.abs(p.values[0b110] - p.base[0b110]).max() > 1e-6  # two shards: an average, not a refit


def test_warmstart_on_a_ridge_regression_world_names_the_models_that_support_it(dia_db):
    before = snapshot(dia_db)
    result = invoke(dia_db, "variant", "unlearn", "dia", "--method", "warmstart")
    assert_refused(result, "this world's model 'ridge' (Ridge) has no warm_start; regression models that have "
                           "both include sklearn.linear_model.SGDRegressor")
    assert snapshot(dia_db) == before


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_model_named_as_warm_startable_has_warm_start_and_max_iter(task):
    from cfgraph.evaluate import Problem
    from cfgraph.variants.unlearning import WARM_START_MODELS, warm_start_keys

    for model in WARM_START_MODELS[task]:
        problem = Problem(np.zeros((1, 1)), np.zeros(1), np.zeros(1, int), np.zeros((1, 1)), np.zeros(1), [],
                          np.array([0, 1]) if task == "classification" else None, model, [], task=task)
        warm, iters = warm_start_keys(problem)
        assert warm.endswith("warm_start") and iters.endswith("max_iter"), model


def test_warm_started_lasso_removal_approaches_exact_retraining_as_iterations_grow(store):
    """Setting: diabetes with a Lasso parent (convex, coordinate descent). A warm start from the
    model of T + A stopped after one solver pass leaves a visible gap; run to convergence it
    reaches the optimum exact retraining finds, to the solver's tolerance."""
    build_world(store, "dia-lasso", make_spec(**{**DIABETES_SPEC, "model": "sklearn.linear_model.Lasso"}),
                progress=False)
    gaps = []
    for iterations in (1, 1000):
        report = build_variant(store, "dia-lasso", {"kind": "unlearn", "unit": "A", "method": "warmstart",
                                                    "iterations": iterations})
        assert report.run.failed == 0
        p = pair(store, report.name)
        gaps.append(np.abs(p.values - p.base).max())
    assert gaps[0] > 1e-3 and gaps[1] < 1e-4
