"""Worlds from data: a regression world on the bundled diabetes data, real-world CSVs whose
encoder and imputer are fitted inside each training set, chosen columns, missing group values,
seed ranges; checked against pipelines built by hand, and on the command line."""

import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cfgraph import evaluate
from cfgraph.cli import main
from cfgraph.data import load_csv, make_preprocessor
from cfgraph.errors import CfgraphError
from cfgraph.worlds import build_world, make_spec, prepare


def cells(store, world, metric=None):
    """{(train_set, eval_slice, seed): (value, status)} from the grid view, as a user would read it."""
    with sqlite3.connect(store.sqlite_path) as conn:
        rows = conn.execute("SELECT train_set, eval_slice, seed, value, status, metric FROM grid WHERE world = ?",
                            (world,)).fetchall()
    return {(t, s, seed): (v, st) for t, s, seed, v, st, m in rows if metric is None or m == metric}


def world_row(store, name):
    with sqlite3.connect(store.sqlite_path) as conn:
        return conn.execute("SELECT task, metric, model_spec FROM world WHERE name = ?", (name,)).fetchone()


def invoke(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def assert_refused(result, needle):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert needle in lines[0], lines[0]


# ------------------------------------------------------------------ diabetes: a regression world

def test_a_diabetes_world_with_ridge_and_r2_matches_pipelines_built_by_hand(store):
    spec = make_spec(dataset="diabetes", group_by="random", units=3, model="ridge", metrics=["r2"], test_size=0.3)
    assert spec["task"] == "regression"
    report = build_world(store, "dia", spec, progress=False)
    assert report.fits == 8 and report.failed == 0
    assert world_row(store, "dia") == ("regression", "r2", "ridge")
    grid = cells(store, "dia")
    assert len(grid) == 8 * 4  # slices A, B, C, all

    X, y = load_diabetes(return_X_y=True)
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, random_state=0)  # not stratified
    rng = np.random.default_rng(0)  # the random grouping by hand: a seeded permutation of 0, 1, 2, 0, 1, ...
    unit_train = rng.permutation(np.arange(len(train)) % 3)
    unit_test = rng.permutation(np.arange(len(test)) % 3)
    for label, members in [("A", [0]), ("AC", [0, 2]), ("ABC", [0, 1, 2])]:
        rows = train[np.isin(unit_train, members)]
        model = make_pipeline(StandardScaler(), Ridge()).fit(X[rows], y[rows])
        assert grid[(label, "all", 0)] == (pytest.approx(model.score(X[test], y[test]), abs=1e-12), "ok")
        b = test[unit_test == 1]
        assert grid[(label, "B", 0)][0] == pytest.approx(r2_score(y[b], model.predict(X[b])), abs=1e-12)
    # The empty training set predicts the prior, the mean target of the training split.
    prior = np.full(len(test), y[train].mean())
    assert grid[("∅", "all", 0)] == (pytest.approx(r2_score(y[test], prior), abs=1e-12), "baseline")


def test_an_old_spec_without_task_or_columns_resumes_as_classification(store):
    """A world stored before specs had these keys is the same recipe as today's spec of it."""
    spec = make_spec(dataset="iris", group_by="random", units=2, model="gnb")
    assert spec["lattice"] == "exhaustive"
    old = {k: v for k, v in spec.items() if k not in ("task", "features", "drop", "lattice")}
    assert build_world(store, "old", old, progress=False).fits == 4
    assert world_row(store, "old")[0] == "classification"
    assert build_world(store, "old", spec, progress=False).fits == 0
    with pytest.raises(CfgraphError, match="different recipe"):
        build_world(store, "old", {**spec, "drop": ["x"]}, progress=False)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(dataset="diabetes", group_by="class", units=None), "grouping by class needs a classification task"),
    (dict(dataset="diabetes", metrics=["accuracy"]), "accuracy is a classification metric"),
    (dict(dataset="diabetes", model="logreg"), "model 'logreg' is a classifier"),
    (dict(dataset="iris", task="regression"), "iris is a classification dataset, not regression"),
    (dict(dataset="iris", features=["x"]), "choosing feature columns needs a CSV file"),
])
def test_recipes_that_do_not_fit_the_task_are_refused(kwargs, needle):
    with pytest.raises(CfgraphError) as caught:
        make_spec(**kwargs)
    assert needle in str(caught.value)


def test_defaults_follow_the_task():
    regression = make_spec(dataset="diabetes", group_by="random", units=2)
    assert (regression["model"], regression["metrics"]) == ("ridge", ["r2"])
    classification = make_spec(dataset="wine")
    assert (classification["model"], classification["metrics"], classification["task"]) == \
        ("logreg", ["accuracy"], "classification")


# ------------------------------------------------------------------ real-world tables

def shop_table(path):
    """60 rows in three sites; site b's sizes are ten times larger and only b sells purple.

    Every fifth size is missing, so a test row's imputed size depends on which training rows
    the imputer saw; ``note`` is free text that is never a feature.
    """
    rng = np.random.default_rng(5)
    lines = ["size,colour,note,site,price"]
    for k in range(60):
        site = "abc"[k % 3]
        size = rng.uniform(0, 10) * (10 if site == "b" else 1)
        colour = ["red", "blue", "purple" if site == "b" else "red"][k % 4 % 3]
        price = 2 * size + (3 if colour == "red" else 0) + rng.normal(0, 1)
        shown = "" if k % 5 == 0 else f"{size:.4f}"
        lines.append(f'{shown},{colour},"free text {k}, maybe",{site},{price:.4f}')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_encoder_and_imputer_are_fitted_inside_each_training_set(store, tmp_path, monkeypatch):
    path = shop_table(tmp_path / "shop.csv")
    spec = make_spec(csv_path=str(path), target="price", group_by="site", units=None, model="linear",
                     drop=["note"], test_size=0.3)
    assert spec["task"] == "regression" and spec["metrics"] == ["r2"]
    build_world(store, "shop", spec, progress=False)
    grid = cells(store, "shop")

    data = load_csv(path, "price", "site", drop=["note"])
    train, test = train_test_split(np.arange(60), test_size=0.3, random_state=0)
    ac = train[data.groups[train] != "b"]  # training set AC: sites a and c, without b
    honest = make_pipeline(make_preprocessor(2, [1]), LinearRegression()).fit(data.X[ac], data.y[ac])
    expected = honest.score(data.X[test], data.y[test])
    assert grid[("AC", "all", 0)] == (pytest.approx(expected, abs=1e-12), "ok")
    # The same model with an imputer and encoder that saw every training row (b's large sizes
    # move the median) scores differently: the cell above is not that one.
    leaky = make_preprocessor(2, [1]).fit(data.X[train])
    model = LinearRegression().fit(leaky.transform(data.X[ac]), data.y[ac])
    assert abs(model.score(leaky.transform(data.X[test]), data.y[test]) - expected) > 1e-3

    # Through the engine's own fitted pipeline: without b, purple is unknown and the median is AC's.
    fitted = []
    original = evaluate.build_estimator

    def keep(problem, seed):
        fitted.append(original(problem, seed))
        return fitted[-1]

    monkeypatch.setattr(evaluate, "build_estimator", keep)
    problem = prepare(spec).problem
    for mask in (0b101, 0b111):
        evaluate.fit_node(problem, mask, 0, [(0, "r2")])
    without_b, with_b = (f.named_steps["preprocessor"] for f in fitted)
    assert "purple" not in without_b.named_transformers_["text"][-1].categories_[0]
    assert "purple" in with_b.named_transformers_["text"][-1].categories_[0]
    sizes = data.X[ac, 0].astype(float)
    assert without_b.named_transformers_["numeric"].statistics_[0] == np.nanmedian(sizes)


def test_kmeans_groups_a_table_with_text_and_gaps_through_an_encoded_view(store, tmp_path):
    path = shop_table(tmp_path / "shop.csv")
    spec = make_spec(csv_path=str(path), target="price", group_by="kmeans", units=2, features=["colour", "size"])
    assert spec["features"] == ["colour", "size"]
    report = build_world(store, "shop-km", spec, progress=False)
    assert report.fits == 4 and report.failed == 0
    units = prepare(spec).units
    assert "imputed, one-hot encoded" in units[0].definition and sum(u.size for u in units) == 42


def test_missing_group_values_form_the_last_unit(store, tmp_path):
    lines = ["x,label,site"] + [f"{k},{'yes' if k % 3 else 'no'},{['n', 's', ''][k % 3] if k % 2 else 'NA'}"
                                for k in range(60)]
    path = tmp_path / "sites.csv"
    path.write_text("\n".join(lines) + "\n")
    spec = make_spec(csv_path=str(path), target="label", group_by="site", units=None, model="tree")
    assert spec["task"] == "classification"
    build_world(store, "sites", spec, progress=False)
    units = prepare(spec).units
    assert [u.name for u in units] == ["n", "s", "(missing)"]
    assert units[2].definition == "rows with no value in column site"
    assert sum(u.size for u in units) == 42 and units[2].size > units[0].size  # 40 of 60 rows have no site


# ------------------------------------------------------------------ the command line

def test_cli_builds_a_regression_world_from_a_csv_with_chosen_columns(tmp_path):
    path = shop_table(tmp_path / "shop.csv")
    db = tmp_path / "cli.db"
    result = invoke(db, "run", "--csv", str(path), "--target", "price", "--group-by", "site", "--drop", "note",
                    "--model", "linear", "--seeds", "0-2", "--world", "shop", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "world shop (regression): 24 fits" in result.output
    store_cells = sqlite3.connect(db).execute(
        "SELECT DISTINCT seed FROM grid WHERE world = 'shop' ORDER BY seed").fetchall()
    assert store_cells == [(0,), (1,), (2,)]
    task, metric = sqlite3.connect(db).execute("SELECT task, metric FROM world WHERE name = 'shop'").fetchone()
    assert (task, metric) == ("regression", "r2")
    result = invoke(db, "run", "--csv", str(path), "--target", "price", "--group-by", "random", "--units", "2",
                    "--features", "size,colour", "--metric", "neg_mean_absolute_error", "--world", "mae")
    assert result.exit_code == 0, result.output
    value = sqlite3.connect(db).execute("SELECT value FROM grid WHERE world = 'mae' AND train_set = 'AB' "
                                        "AND eval_slice = 'all'").fetchone()[0]
    assert value < 0  # minus the mean absolute error


@pytest.fixture
def quality_csv(tmp_path):
    path = tmp_path / "wine.csv"
    path.write_text("acid,colour,quality\n" + "".join(
        f"{k / 7:.3f},{'red' if k % 2 else 'white'},{3 + k % 4}\n" for k in range(80)))
    return str(path)


@pytest.mark.parametrize("args,needle", [
    (["--target", "quality"], "holds 4 distinct whole number(s) (3, 4, 5, 6): classes or a quantity?"),
    (["--target", "quality", "--task", "regression", "--group-by", "class"], "grouping by class needs a classification"),
    (["--target", "quality", "--task", "regression", "--metric", "accuracy"], "accuracy is a classification metric"),
    (["--target", "quality", "--task", "classification", "--metric", "r2"], "r2 is a regression metric"),
    (["--target", "quality", "--task", "sideways"], "'sideways' is not one of 'classification', 'regression'"),
    (["--target", "quality", "--task", "regression", "--features", "acid,grape"], "no column 'grape' among the features"),
    (["--target", "quality", "--task", "regression", "--drop", "colour", "--features", "acid"], "not both"),
    (["--target", "quality", "--task", "regression", "--seeds", "3-1"], "seeds '3-1': the range 3-1 runs backwards"),
    (["--target", "quality", "--task", "regression", "--seeds", "0-5000"], "more than 1000 seeds"),
    (["--target", "quality", "--task", "regression", "--seeds", "x"], "seeds 'x': 'x' is not a seed or a range"),
])
def test_cli_refuses_bad_tasks_columns_and_seeds_in_one_line(tmp_path, quality_csv, args, needle):
    db = tmp_path / "refused.db"
    assert_refused(invoke(db, "run", "--csv", quality_csv, "--group-by", "random", "--units", "2", *args), needle)
    if db.exists():
        assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM world").fetchone() == (0,)


def test_saying_the_task_settles_an_ambiguous_target(tmp_path, quality_csv):
    db = tmp_path / "q.db"
    for task, metric in (("classification", "accuracy"), ("regression", "r2")):
        result = invoke(db, "run", "--csv", quality_csv, "--target", "quality", "--task", task, "--group-by",
                        "random", "--units", "2", "--model", "tree", "--world", task)
        assert result.exit_code == 0, result.output
        row = sqlite3.connect(db).execute("SELECT task, metric FROM world WHERE name = ?", (task,)).fetchone()
        assert row == (task, metric)


def test_an_empty_column_list_is_refused(tmp_path, quality_csv):
    assert_refused(invoke(tmp_path / "e.db", "run", "--csv", quality_csv, "--target", "quality", "--task",
                          "regression", "--features", " , "), "the list of feature columns is empty")


def test_a_classification_table_with_text_and_gaps_trains_logistic_regression(store, tmp_path):
    from sklearn.linear_model import LogisticRegression

    lines = ["age,job,income,city,churn"]
    for k in range(120):
        age = "" if k % 9 == 0 else str(20 + (k * 7) % 50)
        income = "NA" if k % 7 == 0 else f"{40 + (k * 13) % 30}.5"
        lines.append(f"{age},{['clerk', 'nurse', 'chef', '?'][k % 4]},{income},{'xy'[k % 2]},"
                     f"{'yes' if k % 4 == 0 or k % 5 == 0 else 'no'}")
    path = tmp_path / "churn.csv"
    path.write_text("\n".join(lines) + "\n")
    spec = make_spec(csv_path=str(path), target="churn", group_by="city", units=None,
                     metrics=["accuracy", "neg_log_loss"])
    assert (spec["task"], spec["model"]) == ("classification", "logreg")
    report = build_world(store, "churn", spec, progress=False)
    assert report.failed == 0 and report.fits == 4
    data = load_csv(path, "churn", "city")
    assert data.categorical == [1]
    train, test = train_test_split(np.arange(120), test_size=0.3, random_state=0, stratify=data.y)
    model = make_pipeline(make_preprocessor(3, [1]), StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(data.X[train], data.y[train])
    grid = cells(store, "churn", "accuracy")
    assert grid[("AB", "all", 0)] == (pytest.approx(model.score(data.X[test], data.y[test]), abs=1e-12), "ok")


@pytest.mark.parametrize("kwargs,needle", [
    (dict(seeds=[2 ** 32]), "seed 4294967296"), (dict(seeds=[0, 99999999999999999999]), "seed 99999999999999999999"),
    (dict(seeds=[-1]), "seed -1"), (dict(seed=2 ** 32), "split seed 4294967296"), (dict(seed=-5), "split seed -5"),
    (dict(seeds=[1.5]), "seed 1.5"), (dict(seed=True), "split seed True"),
])
def test_seeds_outside_random_states_range_are_refused_by_the_spec(kwargs, needle):
    with pytest.raises(CfgraphError) as caught:
        make_spec(dataset="iris", **kwargs)
    assert needle in str(caught.value) and "up to 4294967295" in str(caught.value)


def test_the_largest_seeds_make_a_spec():
    spec = make_spec(dataset="iris", seeds=[2 ** 32 - 1, 0], seed=2 ** 32 - 1)
    assert spec["seeds"] == [0, 2 ** 32 - 1] and spec["seed"] == 2 ** 32 - 1


@pytest.mark.parametrize("edit", ["last", "first", "append"])
def test_resuming_on_an_edited_csv_says_the_file_changed(store, tmp_path, edit):
    lines = ["f1,label"] + [f"{i},{'a' if i % 3 else 'b'}" for i in range(60)]
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n")
    spec = make_spec(csv_path=str(path), target="label", group_by="random", units=2, model="tree")
    build_world(store, "m", spec, progress=False)
    edited = {"last": lines[:-1] + ["59,b"], "first": [lines[0], "0,a"] + lines[2:], "append": lines + ["60,b"]}[edit]
    path.write_text("\n".join(edited) + "\n")
    cells_before = len(cells(store, "m"))
    for again in (spec, {**spec, "seeds": [0, 1]}):
        with pytest.raises(CfgraphError) as caught:
            build_world(store, "m", again, progress=False)
        assert "before the file changed" in str(caught.value) and "choose another world name" in str(caught.value)
    with pytest.raises(CfgraphError, match="different recipe"):  # the file and the model: not only the file
        build_world(store, "m", {**spec, "model": "gnb"}, progress=False)
    assert len(cells(store, "m")) == cells_before
    report = build_world(store, "m", spec, replace=True, progress=False)
    assert report.failed == 0
