"""Computing missing cells from the page (``cfgraph serve --allow-compute``): jobs and CSRF.

``POST /world/<world>/compute`` queues a job that fits the named training sets of a trained
world, for every seed the form names (none: every seed of the world's recipe), through :func:`cfgraph.fill.compute_cells` (the engine of ``cfgraph run``) in one
background worker thread with its own store session; ``GET /api/jobs/<id>`` reports its
progress. Writes are guarded three ways: the app must be started with ``--allow-compute``
(``ALLOW_COMPUTE``; otherwise every POST is 403), the form must carry this app's CSRF token
(an HMAC of a per-app random secret, compared with :func:`hmac.compare_digest`), and a request
whose ``Origin`` or ``Referer`` names another host is refused (403); an unknown ``Host`` is
refused by the app's global check. A job's error is one line in its status, never a traceback.

References
----------
OWASP Cheat Sheet Series, "Cross-Site Request Forgery Prevention" (synchronizer token pattern,
verifying origin with standard headers).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import queue
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import urlparse

from flask import Blueprint, current_app, redirect, request, url_for

from cfgraph.errors import CfgraphError, NotFound

bp = Blueprint("compute", __name__)
log = logging.getLogger(__name__)

#: Training sets one request may queue (each is one fit per seed): a page's worth, not a world.
MAX_SETS = 256
_SECRET_KEY = "cfgraph.compute.secret"
_JOBS_KEY = "cfgraph.compute.jobs"


@dataclass
class Job:
    """One queued fill: its training sets and seeds (None: the recipe's), progress (fits) and outcome."""

    id: str
    world: str
    training_sets: list[str]
    seeds: list[int] | None
    metric: str | None
    status: str = "queued"  # queued, running, done, failed
    done: int = 0
    total: int = 0
    cells: int = 0
    error: str = ""
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict:
        return {"id": self.id, "world": self.world, "status": self.status, "done": self.done, "total": self.total,
                "cells": self.cells, "error": self.error, "training_sets": len(self.training_sets),
                "seeds": self.seeds}

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (tests use it instead of sleeping)."""
        return self.finished.wait(timeout)


class Jobs:
    """An in-process queue of fill jobs and the one worker thread that runs them, oldest first."""

    def __init__(self, store):
        self.store = store
        self.jobs: dict[str, Job] = {}
        self.queue: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.counter = itertools.count(1)
        self.worker = None

    def submit(self, world: str, training_sets: list[str], seeds, metric) -> Job:
        """Queue a job, or refuse when this world already has one queued or running.

        ``seeds`` is one seed, a list of seeds, or None (every seed of the world's recipe).
        """
        if seeds in (None, "") or (isinstance(seeds, (list, tuple)) and not seeds):
            seeds = None
        else:
            seeds = [int(s) for s in (seeds if isinstance(seeds, (list, tuple)) else [seeds])]
        with self.lock:
            busy = [j for j in self.jobs.values() if j.world == world and j.status in ("queued", "running")]
            if busy:
                raise CfgraphError(f"world {world!r} already has a job ({busy[0].id}, {busy[0].status}); "
                                   "wait for it to finish")
            job = Job(id=f"{next(self.counter)}-{secrets.token_hex(4)}", world=world,
                      training_sets=list(training_sets), seeds=seeds, metric=metric,
                      total=len(training_sets) * len(seeds or [0]))  # until the fill counts its fits
            self.jobs[job.id] = job
            if self.worker is None or not self.worker.is_alive():
                self.worker = threading.Thread(target=self._work, name="cfgraph-compute", daemon=True)
                self.worker.start()
        self.queue.put(job)
        return job

    def _work(self) -> None:
        from cfgraph.fill import compute_cells

        while True:
            job = self.queue.get()
            job.status = "running"
            try:
                report = compute_cells(self.store, job.world, job.training_sets, seeds=job.seeds,
                                       metric=job.metric, on_batch=lambda done: setattr(job, "done", done),
                                       on_plan=lambda total: setattr(job, "total", total))
                job.cells, job.done, job.status = report.cells, job.total, "done"
            except Exception as exc:  # one line in the job's status; the sink kept whole batches only
                if not isinstance(exc, CfgraphError):
                    log.exception("compute job %s failed", job.id)
                job.error = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
                job.status = "failed"
            finally:
                job.finished.set()
                self.queue.task_done()


def _jobs() -> Jobs:
    app = current_app
    if _JOBS_KEY not in app.extensions:
        from cfgraph.web.db import get_store

        app.extensions[_JOBS_KEY] = Jobs(get_store())
    return app.extensions[_JOBS_KEY]


def job_of(job_id: str | None) -> Job | None:
    """A job of this app by id (None when there is none)."""
    if not job_id:
        return None
    return current_app.extensions.get(_JOBS_KEY, Jobs(None)).jobs.get(str(job_id))


def csrf_token() -> str:
    """This app's CSRF token: an HMAC-SHA256 of a random secret made once per app."""
    secret = current_app.extensions.setdefault(_SECRET_KEY, secrets.token_bytes(32))
    return hmac.new(secret, b"cfgraph compute", hashlib.sha256).hexdigest()


def _refuse(status: int, message: str):
    from cfgraph.web import error_response

    return error_response(status, message)


def _check_post():
    """None when the POST may write, else the one-line refusal."""
    from cfgraph.web import LOCAL_HOSTS, host_name, trusted_hosts

    if not current_app.config["ALLOW_COMPUTE"]:
        return _refuse(403, "computing is off: start the explorer with `cfgraph serve --allow-compute`")
    for header in ("Origin", "Referer"):
        value = request.headers.get(header)
        if value and value != "null":
            hosts = set(trusted_hosts(current_app.config["ALLOWED_HOSTS"])) | set(LOCAL_HOSTS)
            hosts |= set(trusted_hosts([current_app.config["SERVE_HOST"] or ""]))
            if host_name(urlparse(value).netloc) not in hosts:
                return _refuse(403, f"refused: the {header} header names another host")
    token = request.form.get("csrf_token", "")
    if not token:
        return _refuse(400, "refused: the form has no CSRF token; reload the plan page and try again")
    if not hmac.compare_digest(token.encode(), csrf_token().encode()):
        return _refuse(403, "refused: the CSRF token is wrong (an old page, or another site); reload the plan page")
    return None


@bp.before_request
def guard():
    if request.method == "POST":
        return _check_post()
    return None


@bp.route("/world/<world>/compute", methods=["POST"])
def compute(world: str):
    """Queue a job computing the named training sets' missing cells on the named seeds; back to the plan."""
    from cfgraph.web import state

    w = state.load_world(world)
    if w.kind != "trained":
        raise CfgraphError(f"world {w.name!r} has no model to fit missing cells with (it is {w.kind}, not trained)")
    sets = [t for t in request.form.getlist("train") if t.strip()]
    if not sets:
        raise CfgraphError("no training set to compute: the form named none")
    if len(sets) > MAX_SETS:
        raise CfgraphError(f"{len(sets)} training sets in one request; at most {MAX_SETS}")
    for label in sets:
        w.mask_of(label.replace(" ", ""))  # NotFound on an unknown unit, before anything is queued
    seeds = [s for s in request.form.getlist("seed") if s.strip()] or None
    metric = request.form.get("metric") or None
    known = set(w.seeds) | {int(s) for s in (w.record.spec or {}).get("seeds") or ()}
    for seed in seeds or ():  # a seed that is not the world's is refused now, not in the job
        if not seed.strip().lstrip("-").isdigit():
            raise CfgraphError(f"seed must be an integer, not {seed[:20]!r}")
        if int(seed) not in known:
            raise CfgraphError(f"world {w.name!r} has no seed {int(seed)} (seeds: {', '.join(map(str, sorted(known)))})")
    recipe_metrics = list((w.record.spec or {}).get("metrics") or ()) or list(w.metrics)
    if metric is not None and metric not in recipe_metrics:  # refused now, not in the background job
        raise CfgraphError(f"world {w.name!r} has no metric {metric[:40]!r} in its recipe "
                           f"(metrics: {', '.join(recipe_metrics)})")
    job = _jobs().submit(w.name, sets, seeds, metric)
    back = request.form.get("back") or url_for("plan.page", world=w.name)
    if not back.startswith("/") or back.startswith(("//", "/\\")) or "\\" in back or urlparse(back).netloc:
        back = url_for("plan.page", world=w.name)
    sep = "&" if "?" in back else "?"
    return redirect(f"{back}{sep}job={job.id}", code=303)


@bp.route("/api/jobs/<job_id>")
def job_status(job_id: str):
    """A job's progress: fits done of total, status, error line."""
    job = job_of(job_id)
    if job is None:
        raise NotFound(f"no job {job_id[:40]!r} (jobs live as long as the explorer process)")
    return job.to_dict()
