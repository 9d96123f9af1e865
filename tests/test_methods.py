"""KNN-Shapley, Data-OOB, the least core and datamodels through the store: Python API, CLI and SQL."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cfgraph import values
from cfgraph.cli import main
from cfgraph.errors import CfgraphError
from cfgraph.methods import value
from cfgraph.valuation import estimate
from cfgraph.world import World
from cfgraph.worlds import build_world, make_spec

#: Nine iris points and the K-nearest-neighbour utility of Jia et al. (2019): an exhaustive world whose exact
#: Shapley values are the closed form's.
KNN_POINTS = dict(dataset="iris", group_by="point", units=None, model="knn-utility(n_neighbors=3)",
                  metrics=["true_class_probability"], seeds=[0], seed=1, test_size=0.94)
#: A sampled world of about 45 wine points, naive Bayes.
SAMPLED_POINTS = dict(dataset="wine", group_by="point", units=None, model="gnb", metrics=["accuracy"], seeds=[0],
                      seed=0, test_size=0.75, lattice="sampled")


def cli(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)


@pytest.fixture
def knn_world(store):
    build_world(store, "knn", make_spec(**KNN_POINTS), progress=False)
    return store


@pytest.fixture
def sampled(store):
    build_world(store, "points", make_spec(**SAMPLED_POINTS), progress=False)
    return store


def test_knn_shapley_equals_the_exact_shapley_values_of_the_stored_lattice(knn_world):
    v = value(knn_world, "knn", "knn-shapley")
    with World.open(knn_world, "knn") as w:
        table = w.table()
        slices = [s.name for s in w.slices]
    assert v.fits == 0 and v.params == {"k": 3}  # K read from the world's model
    for j, column in enumerate(v.columns):
        exact = values.shapley(table.column(column.slice))
        np.testing.assert_allclose(v.estimate.values[:, j], exact, atol=1e-9)
    assert [c.slice for c in v.columns][0] == "all" and set(c.slice for c in v.columns) == set(slices)


def test_least_core_of_an_exhaustive_world_is_efficient_and_stable(iris_store):
    v = value(iris_store, "iris", "least-core")
    with World.open(iris_store, "iris") as w:
        column = w.table().column("all")
    point = v.trace[0]
    assert point["exact"] and point["constraints"] == len(column) - 2  # the empty and full sets bind trivially
    x = v.estimate.values[:, 0]
    assert x.sum() == pytest.approx(column[-1] - column[0], abs=1e-9)
    # Every coalition gets at least its worth less the subsidy e (the least core's constraint).
    masks = np.arange(len(column))
    members = (masks[:, None] >> np.arange(len(x))) & 1
    assert (members @ x + point["subsidy"] >= column - column[0] - 1e-7).all()


def test_datamodel_of_an_exhaustive_world_is_fitted_on_its_whole_table(iris_store):
    v = value(iris_store, "iris", "datamodel", model="linear", holdout=0.25, seed=5)
    with World.open(iris_store, "iris") as w:
        column = w.table().column("all")
    n = v.estimate.values.shape[0]
    members = ((np.arange(len(column))[:, None] >> np.arange(n)) & 1).astype(bool)
    direct = values.fit_datamodel(members, column, model="linear", holdout=0.25, seed=5)
    np.testing.assert_allclose(v.estimate.values[:, 0], direct.theta, atol=1e-12)
    assert v.trace[0]["n_train"] + v.trace[0]["n_heldout"] == len(column) == 2 ** n
    assert v.trace[0]["lds"] == pytest.approx(direct.lds)
    assert v.params == {"model": "linear", "alpha": None, "holdout": 0.25, "seed": 5}


def test_data_oob_stores_its_bags_and_a_rerun_fits_no_new_training_set(sampled):
    first = value(sampled, "points", "data-oob", bags=12, seed=4)
    assert first.fits > 0 and first.columns[0].metric == "oob_accuracy"
    with sampled.session() as session:
        stored = session.execute(text("select count(*) from node")).scalar()
    assert stored >= first.fits
    again = value(sampled, "points", "data-oob", bags=12, seed=4)
    np.testing.assert_allclose(again.estimate.values, first.estimate.values, equal_nan=True)
    with sampled.session() as session:
        assert session.execute(text("select count(*) from node")).scalar() == stored


def test_least_core_and_datamodel_on_a_sampled_world_use_its_stored_training_sets(sampled):
    estimate(sampled, "points", "msr", budget=150, seed=2)
    core = value(sampled, "points", "least-core")
    assert not core.trace[0]["exact"] and core.trace[0]["constraints"] >= 150
    assert core.fits <= 2  # at most the empty and the full training sets
    model = value(sampled, "points", "datamodel")
    assert model.fits == 0 and model.trace[0]["n_train"] + model.trace[0]["n_heldout"] == core.evaluations


def test_every_method_is_in_sql_and_in_the_values_command(knn_world, tmp_path):
    db = tmp_path / "cfgraph.db"
    n = len(units_of(knn_world))
    result = cli(db, "values", "knn", "--method", "knn-shapley")
    assert result.exit_code == 0, result.output
    assert "knn-shapley on slice all" in result.output and "0 new fits" in result.output
    core = cli(db, "values", "knn", "--method", "least-core")
    assert core.exit_code == 0 and "subsidy e =" in core.output
    dm = cli(db, "values", "knn", "--method", "datamodel", "--surrogate", "lasso", "--alpha", "0.001")
    assert dm.exit_code == 0 and "LDS" in dm.output
    rows = cli(db, "sql", "select method, count(*) from estimate group by method order by method", "--format", "csv")
    slices = len(slices_of(knn_world))
    assert rows.output.splitlines()[1:] == [f"datamodel,{n * slices}", f"knn-shapley,{n * slices}",
                                            f"least-core,{n * slices}"]


def slices_of(store) -> list[str]:
    with World.open(store, "knn") as w:
        return [s.name for s in w.slices]


def units_of(store) -> list[str]:
    with World.open(store, "knn") as w:
        return [u.label for u in w.units]


@pytest.mark.parametrize("args, message", [
    (["--method", "least-core", "--k", "3"], "--k does not apply to --method least-core"),
    (["--method", "knn-shapley", "--bags", "3"], "--bags does not apply"),
    (["--method", "datamodel", "--surrogate", "tree"], "Invalid value for '--surrogate'"),
    (["--method", "knn-shapley", "--seed", "0"], "--seed picks one seed"),
])
def test_bad_method_options_exit_2_in_one_line(knn_world, tmp_path, args, message):
    result = cli(tmp_path / 'cfgraph.db', "values", "knn", *args)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_knn_shapley_refuses_grouped_units(iris_store):
    with pytest.raises(CfgraphError, match="--group-by point"):
        value(iris_store, "iris", "knn-shapley")
    with pytest.raises(CfgraphError, match="unknown method"):
        value(iris_store, "iris", "influence")
    with pytest.raises(CfgraphError, match="takes bags, seed"):
        value(iris_store, "iris", "data-oob", k=3)


def test_the_values_page_shows_each_method_with_its_subsidy_and_lds(sampled, tmp_path):
    from cfgraph.web import create_app

    estimate(sampled, "points", "msr", budget=80, seed=1)
    core = value(sampled, "points", "least-core")
    value(sampled, "points", "datamodel")
    value(sampled, "points", "knn-shapley")
    client = create_app({"DATABASE_URL": str(tmp_path / "cfgraph.db"), "TESTING": True}).test_client()
    page = client.get("/world/points/values?method=least-core").get_data(as_text=True)
    assert "Yan &amp; Procaccia 2021" in page and f"subsidy e = {core.trace[0]['subsidy']:.6g}" in page
    assert "LDS (Spearman, held out)" in client.get("/world/points/values?method=datamodel").get_data(as_text=True)
    data = client.get("/api/worlds/points/estimates?method=knn-shapley").get_json()
    assert data["method"] == "knn-shapley" and data["column"]["metric"] == "true_class_probability"
    assert len(data["units"]) == len(core.units)
    assert client.get("/world/points/values?method=influence").status_code == 400


def test_data_oob_intervals_of_points_are_wilson_intervals_inside_0_1(sampled):
    from scipy.stats import binomtest

    v = value(sampled, "points", "data-oob", bags=10, seed=2)
    rows = [r for r in v.rows() if r["n_samples"] > 0]
    assert rows and all(0 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 1 for r in rows)
    for r in rows[:5]:
        wilson = binomtest(round(r["value"] * r["n_samples"]), r["n_samples"]).proportion_ci(method="wilson")
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((wilson.low, wilson.high), abs=1e-12)


def test_a_least_core_on_few_sampled_constraints_says_they_do_not_pin_it(sampled, tmp_path):
    estimate(sampled, "points", "msr", budget=40, seed=1)
    core = value(sampled, "points", "least-core")
    assert not core.trace[0]["exact"]
    assert np.isnan(core.estimate.stderr).all()  # no standard error to give, so no interval
    assert not core.trace[0]["pinned"] and core.trace[0]["subsidy"] == 0  # 40 coalitions of 45 units
    result = cli(tmp_path / "cfgraph.db", "values", "points", "--method", "least-core")
    assert "a set of values open" in result.output


def test_the_methods_refuse_what_they_cannot_do_in_one_line(toy_store, tmp_path):
    db = tmp_path / "cfgraph.db"
    build_world(toy_store, "tiny", make_spec(**SAMPLED_POINTS), progress=False)
    estimate(toy_store, "tiny", "loo", seed=0)  # n + 1 = about 45 training sets, enough for a datamodel
    for args, message in [
        (["toy", "--method", "least-core"], "has no cells of the empty training set"),
        (["toy", "--method", "datamodel"], "a datamodel needs at least 10"),
        (["tiny", "--method", "knn-shapley", "--metric", "accuracy"], "knn-shapley takes no metric"),
        (["tiny", "--method", "data-oob", "--metric", "accuracy"], "data-oob takes no metric"),
        (["tiny", "--method", "data-oob", "--seed", "0"], "fits every bag with the world's first seed"),
    ]:
        before = cli(db, "sql", "select count(*) from valuation", "--format", "csv").output
        result = cli(db, "values", *args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
        assert cli(db, "sql", "select count(*) from valuation", "--format", "csv").output == before


def test_csv_rows_carry_the_subsidy_and_the_lds_of_their_slice(iris_store, tmp_path):
    import csv
    import io

    db = tmp_path / "iris.db"
    core = list(csv.DictReader(io.StringIO(cli(db, "values", "iris", "--method", "least-core", "--format",
                                                   "csv").output)))
    with World.open(iris_store, "iris") as w:
        slices = [s.name for s in w.slices]
    assert {r["slice"] for r in core} == set(slices)
    by_slice = {r["slice"]: float(r["subsidy"]) for r in core}
    table = cli(db, "values", "iris", "--method", "least-core").output
    for name, subsidy in by_slice.items():
        assert f"least core on slice {name}: subsidy e = {subsidy:.6g}" in table
    assert "exact" in table and "n_samples: stored training sets" in table
    dm = list(csv.DictReader(io.StringIO(cli(db, "values", "iris", "--method", "datamodel", "--format",
                                                 "csv").output)))
    assert all("lds" in r for r in dm)
