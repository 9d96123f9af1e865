"""Worker processes: none outlives the run that started it, even after ``kill -9``.

A run's processes are found by a tag in their environment, which every
descendant inherits (loky workers, loky's and multiprocessing's resource
trackers) and keeps after its parent dies and it is re-parented to init, so
no process is missed whatever the timing. Waits poll /proc with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from cfgraph.executors import Executor

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")

TAG = "CFGRAPH_PROCESS_TAG"

#: About 20 s of logistic regressions on 2 workers: long enough to be killed mid-run.
LONG_RUN = ["run", "--dataset", "digits", "--units", "10", "--model", "logreg", "--world", "k",
            "--jobs", "2", "--no-progress"]
#: Some 32 fits: a couple of seconds.
SHORT_RUN = ["run", "--dataset", "iris", "--units", "5", "--model", "gnb", "--test-size", "0.4", "--world", "s",
             "--jobs", "2", "--no-progress"]


def tagged(tag: str) -> dict[int, str]:
    """Live (not zombie) processes whose environment holds ``TAG=tag``: pid -> command line."""
    found = {}
    marker = f"{TAG}={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or a zombie / another user's process
            continue
    return found


def workers(processes: dict[int, str]) -> dict[int, str]:
    return {pid: cmd for pid, cmd in processes.items() if "popen_loky_posix" in cmd}


def poll(condition, seconds: float):
    """``condition()`` once it is truthy, or its last value after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def start(tmp_path, args, tag):
    """The CLI running ``args`` in a child process tagged ``tag``; its stderr goes to ``tmp_path/stderr``."""
    env = {**os.environ, TAG: tag}
    with open(tmp_path / "stderr", "wb") as stderr:  # a file, not a pipe nobody drains
        return subprocess.Popen([sys.executable, "-m", "cfgraph.cli", "--db", str(tmp_path / "k.db"), *args],
                                env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def kill_all(processes):
    for pid in processes:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_no_worker_outlives_a_killed_run(tmp_path):
    tag = uuid.uuid4().hex
    run = start(tmp_path, LONG_RUN, tag)
    try:
        started = poll(lambda: len(workers(tagged(tag))) == 2 and tagged(tag), 60)
        assert started, f"the run never started its 2 workers: {tagged(tag)}"
        assert run.poll() is None, "the run ended before it could be killed"
        assert sum("resource_tracker" in cmd for cmd in started.values()) == 2  # loky's and multiprocessing's
        run.kill()  # SIGKILL: no atexit, no finally in the run
        run.wait(timeout=10)
        poll(lambda: not tagged(tag), 20)
        survivors = tagged(tag)
        assert not survivors, f"alive 20 s after kill -9 of their parent {run.pid}: {survivors}"
    finally:
        run.kill()
        kill_all(tagged(tag))


def test_a_finished_run_leaves_no_process(tmp_path):
    tag = uuid.uuid4().hex
    run = start(tmp_path, SHORT_RUN, tag)
    seen = {}
    try:
        while run.poll() is None:
            seen |= workers(tagged(tag))
            time.sleep(0.02)
        assert run.returncode == 0, (tmp_path / "stderr").read_text()
        assert seen, "the run never started a loky worker"
        # loky keeps its workers for reuse while their parent lives (300 s idle timeout); at exit it ends them.
        assert poll(lambda: not tagged(tag), 20), tagged(tag)
    finally:
        run.kill()
        kill_all(tagged(tag))


def test_loky_workers_watch_their_parent():
    names = set().union(*Executor("loky", 2).map_unordered(
        lambda _: {t.name for t in threading.enumerate()}, range(4)))
    assert "cfgraph-parent-watch" in names


def test_multiprocessing_and_threading_backends_still_work():
    assert sorted(Executor("multiprocessing", 2).map_unordered(abs, [-2, 1, -3])) == [1, 2, 3]
    assert sorted(Executor("threading", 2).map_unordered(abs, [-2, 1, -3])) == [1, 2, 3]


def test_a_worker_whose_parent_is_already_gone_exits_at_once():
    orphan = "import time; from cfgraph.executors import _die_with_parent; _die_with_parent(1 << 30); time.sleep(30)"
    done = subprocess.run([sys.executable, "-c", orphan], timeout=20)
    assert done.returncode == 1
