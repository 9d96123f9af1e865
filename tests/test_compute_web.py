"""The plan page and computing missing cells from it: the flag, the CSRF token, jobs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cfgraph.store import open_store
from cfgraph.web import create_app
from cfgraph.world import World

from test_planner import _drop, seed_gap  # noqa: F401

PLAN = "/world/iris/plan?cell=ABCD:all&cell=BCD:all"


def _client(path, allow: bool):
    app = create_app({"DATABASE_URL": str(path), "TESTING": True, "ALLOW_COMPUTE": allow})
    return app, app.test_client()


@pytest.fixture
def gap_db(iris_store, tmp_path):
    """A copy of the iris world that lacks the cells of BCD and AB."""
    _drop(iris_store, ["BCD", "AB"])
    return iris_store.sqlite_path


def _count(path) -> int:
    store = open_store(path)
    with World.open(store, "iris") as w:
        n = int((~np.isnan(w.table().values)).sum())
    store.close()
    return n


def _token(client) -> str:
    html = client.get(PLAN).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def test_plan_page_and_json(gap_db):
    _, client = _client(gap_db, allow=False)
    page = client.get(PLAN)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "16 training sets exist; 14 stored" in html and "needs 1 more cell" in html
    assert "<code>BCD:all</code>" in html and "select missing cells" in html and "--allow-compute" in html
    assert 'id="compute-button"' not in html
    data = client.get("/api/worlds/iris/plan?cell=ABCD:all&cell=BCD:all").get_json()
    loo = next(q for q in data["questions"] if q["key"] == "loo")
    assert loo["status"] == "needs" and loo["missing"] == [{"train": "BCD", "slice": "all", "seed": 0}]
    assert data["seeds"] == [0] and data["seed"] == 0 and "(seed 0)" not in html  # one seed: not named
    assert "cell=BCD%3Aall" in data["select_links"]["loo"]


def test_flag_off_refuses_every_post(gap_db):
    _, client = _client(gap_db, allow=False)
    before = _count(gap_db)
    response = client.post("/world/iris/compute", data={"train": "BCD", "csrf_token": "x"})
    assert response.status_code == 403 and "--allow-compute" in response.get_data(as_text=True)
    assert _count(gap_db) == before


@pytest.mark.parametrize("token, status", [(None, 400), ("0" * 64, 403)])
def test_missing_or_wrong_token_refused(gap_db, token, status):
    _, client = _client(gap_db, allow=True)
    before = _count(gap_db)
    data = {"train": "BCD"} | ({"csrf_token": token} if token else {})
    assert client.post("/world/iris/compute", data=data).status_code == status
    assert _count(gap_db) == before


def test_foreign_origin_refused(gap_db):
    _, client = _client(gap_db, allow=True)
    token = _token(client)
    response = client.post("/world/iris/compute", data={"train": "BCD", "csrf_token": token},
                           headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    bad_host = client.post("/world/iris/compute", data={"train": "BCD", "csrf_token": token},
                           headers={"Host": "evil.example"})
    assert bad_host.status_code == 400


def test_good_token_runs_job_and_cells_land(gap_db, iris_db):
    app, client = _client(gap_db, allow=True)
    html = client.get(PLAN).get_data(as_text=True)
    assert 'id="compute-button"' in html
    token = _token(client)
    sets = re.findall(r'name="train" value="([^"]+)"', html)
    assert set(sets) == {"BCD", "AB"}
    response = client.post("/world/iris/compute", data={"train": sets, "csrf_token": token, "seed": "0",
                                                          "metric": "accuracy", "back": PLAN},
                           headers={"Origin": "http://localhost"})
    assert response.status_code == 303
    job_id = re.search(r"job=([\w-]+)", response.headers["Location"]).group(1)
    from cfgraph.web.compute import _JOBS_KEY

    job = app.extensions[_JOBS_KEY].jobs[job_id]
    assert job.wait(120)
    status = client.get(f"/api/jobs/{job_id}").get_json()
    assert status["status"] == "done" and status["done"] == status["total"] == 2 and status["error"] == ""
    original = open_store(iris_db)
    with World.open(original, "iris") as w:
        expected = w.table().values
    original.close()
    store = open_store(gap_db)
    with World.open(store, "iris") as w:
        np.testing.assert_array_equal(w.table().values, expected)  # what `cfgraph run` stored
    store.close()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "16 training sets exist; 16 stored" in page and "done" in page


def test_imported_world_refused(gap_db):
    _, client = _client(gap_db, allow=True)
    token = _token(client)
    response = client.post("/world/toy/compute", data={"train": "A", "csrf_token": token})
    assert response.status_code == 400 and "no model" in response.get_data(as_text=True)
    assert client.get("/api/jobs/nope").status_code == 404


def test_unknown_seed_refused_before_queuing(gap_db):
    app, client = _client(gap_db, allow=True)
    token = _token(client)
    response = client.post("/world/iris/compute", data={"train": "BCD", "csrf_token": token, "seed": "5"})
    assert response.status_code == 400 and "seed 5" in response.get_data(as_text=True)
    assert _count(gap_db) == 14 * 5


@pytest.mark.parametrize("form, message", [({"metric": "f1"}, "no metric"), ({"train": "ZZ"}, "Z")])
def test_unknown_metric_or_unit_refused_before_queuing(gap_db, form, message):
    app, client = _client(gap_db, allow=True)
    token = _token(client)
    response = client.post("/world/iris/compute", data={"train": "BCD", "csrf_token": token, **form})
    assert response.status_code in (400, 404) and message in response.get_data(as_text=True)
    assert not app.extensions.get("cfgraph.compute.jobs") or not app.extensions["cfgraph.compute.jobs"].jobs
    assert _count(gap_db) == 14 * 5


def test_failed_job_is_one_line(gap_db):
    from cfgraph.web.compute import Jobs

    jobs = Jobs(open_store(gap_db))
    job = jobs.submit("iris", ["BCD"], "0", "no_such_metric")
    assert job.wait(60)
    assert job.status == "failed" and "\n" not in job.error and "no_such_metric" in job.error
    with pytest.raises(Exception, match="already has a job"):
        jobs.jobs[job.id].status = "running"
        jobs.submit("iris", ["AB"], "0", None)
    jobs.store.close()


def test_plan_and_compute_across_seeds(seed_gap, demo_db):
    """digits has seeds 0 and 1; only seed 1 lacks BCD and AB: the page says so, and one button fills them."""
    plan = "/world/digits/plan?cell=ABCD:all&cell=BCD:all"
    app, client = _client(seed_gap.sqlite_path, allow=True)
    html = client.get(plan).get_data(as_text=True)
    assert "16 training sets exist; 14 stored on every seed" in html and "seed 0: 16, seed 1: 14" in html
    assert "needs 1 more cell (seed 1)" in html and "<code>BCD:all (seed 1)</code>" in html
    assert re.findall(r'name="seed" value="(\d+)"', html) == ["1"]
    assert "on seed 1</button>" in html
    narrowed = client.get(plan + "&seed=0").get_data(as_text=True)
    assert "Planned on seed 0 only" in narrowed and 'id="compute-button"' not in narrowed
    data = client.get("/api/worlds/digits/plan?cell=ABCD:all&cell=BCD:all").get_json()
    loo = next(q for q in data["questions"] if q["key"] == "loo")
    assert loo["missing"] == [{"train": "BCD", "slice": "all", "seed": 1}] and loo["missing_by_seed"] == {"1": 1}
    assert "seed=1" in data["select_links"]["loo"]
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)
    response = client.post("/world/digits/compute",
                           data={"train": re.findall(r'name="train" value="([^"]+)"', html), "csrf_token": token,
                                 "seed": re.findall(r'name="seed" value="(\d+)"', html), "metric": "accuracy",
                                 "back": plan}, headers={"Origin": "http://localhost"})
    assert response.status_code == 303
    from cfgraph.web.compute import _JOBS_KEY

    job = app.extensions[_JOBS_KEY].jobs[re.search(r"job=([\w-]+)", response.headers["Location"]).group(1)]
    assert job.wait(120)
    assert job.to_dict()["status"] == "done" and job.done == job.total == 2 and job.seeds == [1]
    original = open_store(demo_db, create=False)
    for seed in (0, 1):
        with World.open(original, "digits") as a, World.open(seed_gap, "digits") as b:
            np.testing.assert_array_equal(b.table(seed=seed).values, a.table(seed=seed).values)
    original.close()
    after = client.get(plan).get_data(as_text=True)
    assert "16 stored on every seed" in after and "needs" not in after.split('id="plan"')[1]
