"""The Dask executor: the same cells as loky, a killed worker changes nothing, an absent scheduler is one line.

One LocalCluster of two single-threaded worker processes on 127.0.0.1 serves the
module (starting one takes seconds); the executors under test reach it by its
scheduler address. Without dask.distributed the tests skip, naming the package;
under CI=true they fail instead.
"""

from __future__ import annotations

import os
import signal
import socket

import numpy as np
import pytest
from sqlalchemy import select

from cfgraph import evaluate
from cfgraph.dask_executor import local_cluster
from cfgraph.errors import CfgraphError
from cfgraph.executors import Executor
from cfgraph.store import open_store
from cfgraph.store.catalog import get_world
from cfgraph.store.models import Cell, Node
from cfgraph.store.sink import StoreSink
from cfgraph.valuation import estimate
from cfgraph.worlds import _create_or_merge, build_world, make_spec, prepare

try:
    import distributed
except ImportError:  # the optional extra: pip install 'cfgraph[dask]'
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise pytest.fail.Exception("Dask tests must run in CI: dask.distributed is not installed "
                                    "(pip install 'dask[distributed]')", pytrace=False) from None
    pytest.skip("dask.distributed is not installed (pip install 'dask[distributed]')", allow_module_level=True)

#: iris in 4 KMeans units, Gaussian naive Bayes: 16 training sets.
IRIS = dict(dataset="iris", group_by="kmeans", units=4, model="gnb", metrics=["accuracy"], seeds=[0], seed=0,
            test_size=0.4, eval_slices="units")
#: iris with every training row a unit (45 units): a sampled world.
POINTS = dict(dataset="iris", group_by="point", units=None, model="gnb", metrics=["accuracy"], seeds=[0], seed=0,
              test_size=0.7, lattice="sampled")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes and a scheduler on loopback, with a client to watch them."""
    with local_cluster(2) as local:
        with distributed.Client(local, set_as_default=False) as client:
            yield local, client


@pytest.fixture
def dask_executor(cluster):
    with Executor("dask", scheduler=cluster[0].scheduler_address) as executor:
        yield executor


def dump(store, world):
    """Every cell of a world as sorted tuples: training set, slice, metric, seed, value, status, error."""
    with store.session() as s:
        w = get_world(s, world)
        rows = s.execute(select(Node.label, Cell.slice_id, Cell.metric, Cell.seed, Cell.value, Cell.status,
                                Cell.error).join(Cell, Cell.node_id == Node.id).where(Node.world_id == w.id)).all()
        names = {sl.id: sl.name for sl in w.slices}
    return sorted((r[0], names[r[1]], *r[2:]) for r in rows)


def build_on(store, name, spec, executor, on_batch=None):
    """build_world's run of an exhaustive world, on ``executor`` (build_world itself takes only ``jobs``)."""
    prepared = prepare(spec)
    _create_or_merge(store, name, spec, prepared, replace=False)
    metrics, seeds = prepared.problem.metrics, spec["seeds"]
    sink = StoreSink.open(store, name, metrics, seeds)
    tasks = evaluate.plan(sink.present, np.arange(1 << sink.n), metrics, seeds)
    return evaluate.run(tasks, prepared.problem, sink, executor, progress=False, chunk=1, on_batch=on_batch)


def loky_table(tmp_path, spec):
    store = open_store(tmp_path / "loky.db")
    build_world(store, "w", spec, jobs=2, progress=False)
    table = dump(store, "w")
    store.close()
    return table


def test_an_exhaustive_world_is_the_same_on_loky_and_on_dask(tmp_path, dask_executor):
    spec = make_spec(**{**IRIS, "seeds": [0, 1], "model": "tree"})  # a seeded model: the seed must fix it
    store = open_store(tmp_path / "dask.db")
    report = build_on(store, "w", spec, dask_executor)
    assert report.fits == 32 and report.failed == 0
    assert dump(store, "w") == loky_table(tmp_path, spec)
    # The world's data went to the workers once, for all 32 tasks.
    assert len(dask_executor._dask._shared) == 1


def test_a_sampled_world_is_the_same_on_loky_and_on_dask(tmp_path, dask_executor):
    tables, values = [], []
    for name, executor in (("loky", Executor("loky", 2)), ("dask", dask_executor)):
        store = open_store(tmp_path / f"{name}.db")
        build_world(store, "points", make_spec(**POINTS), progress=False)
        v = estimate(store, "points", "tmc", budget=60, seed=4, executor=executor, progress=False)
        assert v.fits > 0
        tables.append(dump(store, "points"))
        values.append(v.estimate.values)
        store.close()
    assert tables[0] == tables[1]
    np.testing.assert_array_equal(values[0], values[1])
    # Every round of the sampler ran on the same scattered data.
    assert len(dask_executor._dask._shared) == 1


def test_a_worker_killed_mid_run_changes_no_cell(tmp_path, cluster):
    local, client = cluster
    spec = make_spec(**{**IRIS, "units": 5, "model": "forest"})  # 32 fits of a tenth of a second each
    killed = []

    def kill_a_busy_worker(done):
        if killed:
            return
        busy = [address for address, keys in client.processing().items() if keys]
        pids = client.run(os.getpid, workers=busy[:1])
        killed.extend(pids.values())
        os.kill(killed[0], signal.SIGKILL)  # as an out-of-memory kill would: no goodbye to the scheduler

    store = open_store(tmp_path / "dask.db")
    with Executor("dask", scheduler=local.scheduler_address) as executor:
        report = build_on(store, "w", spec, executor, on_batch=kill_a_busy_worker)
    assert killed, "no worker was busy after the first batch"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    table = dump(store, "w")
    assert report.fits == 32 and len(table) == len({row[:4] for row in table}) == 32 * 6
    assert table == loky_table(tmp_path, spec)


def test_without_a_scheduler_a_local_cluster_starts_on_first_use_and_stops_on_close(tmp_path):
    store = open_store(tmp_path / "dask.db")
    with Executor("dask", jobs=1) as executor:
        session = executor._dask
        assert session.client is None  # nothing started yet
        report = build_on(store, "w", make_spec(**IRIS), executor)
        cluster = session.cluster
        assert report.fits == 16 and len(cluster.workers) == 1
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        pids = list(session.client.run(os.getpid).values())
    assert session.client is None and cluster.status.name == "closed"
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert dump(store, "w") == loky_table(tmp_path, make_spec(**IRIS))


def test_a_scheduler_that_does_not_answer_is_one_line(monkeypatch):
    import cfgraph.dask_executor

    monkeypatch.setattr(cfgraph.dask_executor, "CONNECT_TIMEOUT", 1)
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Executor("dask", scheduler=f"tcp://127.0.0.1:{port}") as executor:
        with pytest.raises(CfgraphError, match=f"no Dask scheduler answered at tcp://127.0.0.1:{port}") as info:
            list(executor.map_unordered(abs, [-1, 2]))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "http://127.0.0.1:8786", "tcp://127.0.0.1", "tcp://:8786",
                                     "tcp://h:port"])
def test_a_malformed_scheduler_address_is_refused_before_connecting(address):
    with pytest.raises(CfgraphError, match="tcp://HOST:PORT"):
        Executor("dask", scheduler=address)
    with pytest.raises(CfgraphError, match="needs the dask executor"):
        Executor("loky", scheduler="tcp://127.0.0.1:8786")


# ------------------------------------------------------------------ the command line (cfgraph run)

IRIS_ARGS = ["run", "--world", "w", "--dataset", "iris", "--units", "4", "--model", "tree", "--seeds", "0,1",
             "--test-size", "0.4"]


def invoke(db, *args, **kwargs):
    from click.testing import CliRunner

    from cfgraph.cli import main

    return CliRunner().invoke(main, ["--db", str(db), *args], **kwargs)


def test_cfgraph_run_on_a_dask_scheduler_stores_the_loky_table(tmp_path, cluster):
    address = cluster[0].scheduler_address
    loky = invoke(tmp_path / "loky.db", *IRIS_ARGS, "--jobs", "2")
    flag = invoke(tmp_path / "flag.db", *IRIS_ARGS, "--executor", "dask", "--scheduler", address)
    env = invoke(tmp_path / "env.db", *IRIS_ARGS, "--executor", "dask", env={"CFGRAPH_DASK_SCHEDULER": address})
    for result in (loky, flag, env):
        assert result.exit_code == 0, result.output
        assert "32 fits" in result.output
    tables = [dump(open_store(tmp_path / f"{name}.db"), "w") for name in ("loky", "flag", "env")]
    assert tables[0] == tables[1] == tables[2]


def test_cfgraph_run_with_an_absent_scheduler_is_one_line_and_exit_2(tmp_path, monkeypatch):
    import cfgraph.dask_executor

    monkeypatch.setattr(cfgraph.dask_executor, "CONNECT_TIMEOUT", 1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = invoke(tmp_path / "x.db", *IRIS_ARGS, "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: no Dask scheduler answered at tcp://127.0.0.1:{port} "
                                                  f"within 1 s (OSError)"]
    assert not (tmp_path / "x.db").exists()  # refused before the store was opened
    typed = invoke(tmp_path / "x.db", *IRIS_ARGS, "--scheduler", f"tcp://127.0.0.1:{port}")
    assert typed.exit_code == 2 and "--scheduler needs --executor dask" in typed.output


def test_values_with_a_sampler_and_data_oob_on_dask_equal_loky(tmp_path, cluster):
    address = cluster[0].scheduler_address
    points = ["run", "--dataset", "iris", "--group-by", "point", "--model", "gnb", "--test-size", "0.7",
              "--world", "p", "--sampler", "msr", "--budget", "30"]
    outputs = []
    for name, extra in (("loky", []), ("dask", ["--executor", "dask", "--scheduler", address])):
        db = tmp_path / f"{name}.db"
        assert invoke(db, *points, *extra).exit_code == 0
        tmc = invoke(db, "values", "p", "--sampler", "tmc", "--budget", "60", "--format", "csv", *extra)
        oob = invoke(db, "values", "p", "--method", "data-oob", "--bags", "12", "--format", "csv", *extra)
        assert tmc.exit_code == 0 and oob.exit_code == 0, (tmc.output, oob.output)
        outputs.append((tmc.output, oob.output))
    assert outputs[0] == outputs[1]


def test_a_server_that_is_not_a_dask_scheduler_is_one_line_not_a_hang(tmp_path):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()  # accepts, never answers
    port = server.getsockname()[1]
    result = invoke(tmp_path / "x.db", "run", "--dataset", "iris", "--units", "2", "--model", "gnb", "--world", "w",
                    "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}")
    server.close()
    for connection, _ in accepted:
        connection.close()
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "no Dask scheduler answered" in result.output and not (tmp_path / "x.db").exists()
