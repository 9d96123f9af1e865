"""Guided scenarios: one counterfactual question each, asked of the demo's real worlds.

A :class:`Scenario` is data: the world it reads, what it holds fixed, what it
changes, the limit of what it shows, and the page states that open it (grid
selection, lattice lens, lab cells). Its :meth:`Scenario.answer` computes the
answer through the core (:meth:`cfgraph.world.World.questions`, the variant
functions of :mod:`cfgraph.variants`), never by a formula of its own; the answer
names every cell it used, and a missing cell stays missing (``value`` None).

The worlds are those :func:`cfgraph.demo.build_demo` builds (``cfgraph demo``).
Nothing here knows of Flask; :mod:`cfgraph.web.scenarios` renders the pages.

>>> [s.key for s in SCENARIOS][:3]
['removal', 'strike', 'eval-shift']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from cfgraph.demo import DEMO_WORLD, POISON_WORLD, TOY_WORLD, UNLEARN_WORLD
from cfgraph.errors import NotFound

__all__ = ["Scenario", "ScenarioAnswer", "UsedCell", "SCENARIOS", "BY_KEY", "get_scenario", "missing_worlds",
           "BUILD_COMMAND", "BUDGET"]

#: The command that builds every world a scenario reads.
BUILD_COMMAND = "cfgraph demo"
#: The budget scenario's budget, in training rows (each unit's price is its number of training rows).
BUDGET = 700


@dataclass(frozen=True)
class UsedCell:
    """One cell a scenario read: world, training-set label, slice, model seed, value (None = missing).

    Examples
    --------
    >>> UsedCell("toy", "ACD", "B", 0, 0.55).label
    'toy: f(ACD, B), seed 0'
    """

    world: str
    train: str
    slice: str
    seed: int | None
    value: float | None

    @property
    def label(self) -> str:
        seed = "" if self.seed is None else f", seed {self.seed}"
        return f"{self.world}: f({self.train}, {self.slice}){seed}"


@dataclass
class ScenarioAnswer:
    """A scenario's answer.

    Attributes
    ----------
    value : float or None
        The headline number (None when its cells are missing).
    summary : str
        One or two sentences with the numbers.
    worked : str
        The core question's formula with this scenario's numbers.
    columns, rows : list
        A detail table (rows of the same length as ``columns``).
    cells, missing : list of UsedCell
        Every cell used, and every cell needed but not stored (value None).
    status : str
        ``answered``, ``partial`` (some needed cells missing) or ``missing``.
    changes : str
        What changes, computed from the data (the sets walked); empty: the scenario's own text.
    """

    value: float | None
    summary: str
    worked: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    cells: list[UsedCell] = field(default_factory=list)
    missing: list[UsedCell] = field(default_factory=list)
    status: str = "answered"
    changes: str = ""

    def to_dict(self) -> dict:
        """Plain JSON-ready data (cells as dicts).

        Examples
        --------
        >>> ScenarioAnswer(0.5, "x", cells=[UsedCell("toy", "A", "A", 0, 0.5)]).to_dict()["cells"][0]["train"]
        'A'
        """
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class Scenario:
    """A guided scenario: what it asks, of which world, and how to open it.

    Attributes
    ----------
    key, title, question : str
        URL key, title and the question in one line.
    world : str
        The world its page opens; ``worlds`` every world it reads.
    fixed, changes, limit : str
        What is held fixed, what changes, and the limit of what the answer shows.
    grid : tuple of (str, str)
        Grid URL parameters (``cell=TRAIN:SLICE``, focus, ``q``) on ``grid_world``.
    lattice : tuple of (str, str)
        Lattice (graph) URL parameters on ``lattice_world``.
    lab_a, lab_b : tuple of (world, train, slice, seed)
        The cells of the lab's World A and World B.
    lab_params : tuple of (str, str)
        The lab's parameters (``pairing="matched"``, ``add``: the meaningful pairs only).
    compute : callable
        ``compute(session) -> ScenarioAnswer``, reading through the core.
    """

    key: str
    title: str
    question: str
    world: str
    worlds: tuple[str, ...]
    fixed: str
    changes: str
    limit: str
    grid: tuple[tuple[str, str], ...]
    lattice: tuple[tuple[str, str], ...]
    lab_a: tuple[tuple, ...]
    lab_b: tuple[tuple, ...]
    compute: Callable = field(repr=False, compare=False)
    grid_world: str | None = None
    lattice_world: str | None = None
    lab_params: tuple[tuple[str, str], ...] = ()

    def answer(self, source) -> ScenarioAnswer:
        """The scenario's answer from a store or an open session.

        Raises
        ------
        NotFound
            If a world it reads is not stored; the message names the command that builds it.

        Examples
        --------
        >>> from cfgraph.store import open_store
        >>> from cfgraph.grids import import_grid
        >>> from cfgraph.resources import seed_file
        >>> store = open_store("sqlite://")
        >>> _ = import_grid(store, seed_file("toy_grid.csv"), "toy")
        >>> round(get_scenario("toy-missing").answer(store).value, 2)
        0.33
        >>> get_scenario("removal").answer(store)
        Traceback (most recent call last):
        ...
        cfgraph.errors.NotFound: scenario 'removal' reads world 'digits', which is not in this store: build it with `cfgraph demo`
        """
        from sqlalchemy.orm import Session

        if isinstance(source, Session):
            return self._answer(source)
        with source.session() as session:
            return self._answer(session)

    def _answer(self, session) -> ScenarioAnswer:
        absent = missing_worlds(session, self.worlds)
        if absent:
            raise NotFound(f"scenario {self.key!r} reads world {absent[0]!r}, which is not in this store: "
                           f"build it with `{BUILD_COMMAND}`")
        return self.compute(session)


def missing_worlds(session, names) -> list[str]:
    """The names among ``names`` with no stored world.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> with open_store("sqlite://").session() as s:
    ...     missing_worlds(s, ["toy", "digits"])
    ['toy', 'digits']
    """
    from cfgraph.store import catalog

    return [name for name in names if catalog.find_world(session, name) is None]


def _lazy(name: str, module: str = "cfgraph.scenario_answers") -> Callable:
    """``compute`` that imports the answer's module on first use (this module stays light to import)."""

    def compute(session):
        import importlib

        return getattr(importlib.import_module(module), name)(session)

    return compute


D, P, U, T = DEMO_WORLD, POISON_WORLD, UNLEARN_WORLD, TOY_WORLD
_SEED = (("seed", "0"),)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "removal", "One removal: what unit B adds to the full training set",
        "How much worse is the model trained without unit B than with it?", D, (D,),
        fixed="the other units A, C, D; the model (logistic regression); the evaluation slices; the seed",
        changes="unit B (one KMeans cluster of training rows) is removed from ABCD: ABCD → ACD",
        limit="one removal from one starting set: B's leave-one-out value from ABCD. From a smaller set the "
              "same removal can cost more or less (the Shapley value averages over all of them).",
        grid=(("cell", "ABCD:all"), ("cell", "ACD:all"), ("unit", "B"), ("q", "loo")) + _SEED,
        lattice=(("slice", "all"), ("node", "ABCD"), ("lens", "ablation"), ("unit", "B")) + _SEED,
        lab_a=((D, "ABCD", "all", 0),), lab_b=((D, "ACD", "all", 0),), compute=_lazy("removal")),
    Scenario(
        "strike", "A data strike: coalition BD withdraws one unit at a time",
        "What do B and D lose the model when they leave together, and what does each step cost?", D, (D,),
        fixed="units A and C stay; the model; the evaluation slice (all test rows); seed 0",
        changes="B leaves ABCD, then D leaves ACD: ABCD → ACD → AC (one edge of the lattice per step)",
        limit="one coalition and one order. The total drop does not depend on the order; each step's drop does. "
              "A real strike also changes who is left to replace the data, which a fixed lattice cannot show.",
        grid=(("cell", "ABCD:all"), ("cell", "AC:all"), ("coalition", "BD"), ("q", "group_loo")) + _SEED,
        lattice=(("slice", "all"), ("node", "ABCD"), ("lens", "strike"), ("coalition", "BD")) + _SEED,
        lab_a=((D, "ABCD", "all", 0),), lab_b=((D, "ACD", "all", 0), (D, "AC", "all", 0)),
        compute=_lazy("strike")),
    Scenario(
        "eval-shift", "An evaluation shift: the same model scored on another slice",
        "How does the model trained on ABC do on D's test rows compared with C's?", D, (D,),
        fixed="the training set ABC, so the same fitted model; seed 0",
        changes="the evaluation slice: test rows nearest cluster C → test rows nearest cluster D",
        limit="it measures the gap, not its cause: D is missing from training here, and whether adding D "
              "closes the gap is a training addition (ABC → ABCD), another question.",
        grid=(("cell", "ABC:C"), ("cell", "ABC:D"), ("q", "eval_move")) + _SEED,
        lattice=(("slice", "D"), ("node", "ABC")) + _SEED,
        lab_a=((D, "ABC", "C", 0),), lab_b=((D, "ABC", "D", 0),), compute=_lazy("eval_shift")),
    Scenario(
        "scaling", "Scaling: the mean score of each layer against its size",
        "How does accuracy grow with the number of units in the training set?", D, (D,),
        fixed="the model; the evaluation slice (all test rows); seed 0",
        changes="the layer k = 0 … 4: every training set of k units, averaged",
        limit="five points on four units of unequal size (see the table's rows): too few to fit a scaling law with any "
              "confidence, and each layer mean hides which units are in the set.",
        grid=(("cell", "AB:all"), ("layer", "2"), ("k", "2"), ("q", "scaling")) + _SEED,
        lattice=(("slice", "all"), ("lens", "layer"), ("k", "2")) + _SEED,
        lab_a=tuple((D, t, "all", 0) for t in ("A", "B", "C", "D")),
        lab_b=tuple((D, t, "all", 0) for t in ("ABC", "ABD", "ACD", "BCD")), compute=_lazy("scaling")),
    Scenario(
        "poisoning", "Poisoning: digits against digits-poison",
        "What does a poison unit of label-flipped copies of A's rows do to the full model?", P, (D, P),
        fixed="the honest units A-D, the model, the evaluation slices (the poison has no test rows); seed 0",
        changes="unit E (label-flipped copies of A's training rows) joins the training set: ABCD → ABCDE",
        limit="one crafted attack (label flipping), not the strongest possible; exact only over these four "
              "honest units. Sets without E are digits' own cells, copied, not refitted.",
        grid=(("cell", "ABCDE:A"), ("cell", "ABCD:A"), ("unit", "E"), ("q", "loo")) + _SEED,
        lattice=(("slice", "A"), ("node", "ABCDE"), ("lens", "sweep"), ("unit", "E")) + _SEED,
        lab_a=((D, "ABCD", "A", 0), (D, "ABCD", "all", 0)), lab_b=((P, "ABCDE", "A", 0), (P, "ABCDE", "all", 0)),
        compute=_lazy("poisoning", "cfgraph.scenario_variants"), grid_world=P, lattice_world=P,
        lab_params=(("add", "E"), ("pairing", "matched"))),
    Scenario(
        "unlearning", "An unlearning audit: SISA removal of A against exact retraining",
        "Does removing unit A by dropping its shard give the scores of a model retrained without A?", U, (D, U),
        fixed="every training set T without A, the slices, seed 0; tolerance τ = 0.15 (the original site's)",
        changes="how A is removed from T + A: exact retraining on T (digits) → SISA, drop A's shard (digits-unlearn)",
        limit="it compares scores, not models: equal scores do not prove that A is forgotten. And where "
              "|f(S) − f(S \\ A)| ≤ τ an audit cannot even tell a model that kept A from one that removed it.",
        grid=(("cell", "ABCD:all"), ("cell", "BCD:all"), ("unit", "A"), ("tol", "0.15"), ("q", "unlearning")) + _SEED,
        lattice=(("slice", "all"), ("node", "ABCD"), ("lens", "ablation"), ("unit", "A")) + _SEED,
        lab_a=tuple((D, t, "all", 0) for t in ("BCD", "BC", "BD", "CD")),
        lab_b=tuple((U, t, "all", 0) for t in ("BCD", "BC", "BD", "CD")),
        compute=_lazy("unlearning", "cfgraph.scenario_variants"), grid_world=D, lattice_world=D,
        lab_params=(("pairing", "matched"),)),
    Scenario(
        "budget", f"A budget choice: the best training set within {BUDGET} rows",
        f"With a budget of {BUDGET} training rows (each unit priced at its rows), which units should one buy?", D, (D,),
        fixed="the model; the evaluation slice (all test rows); seed 0; prices = each unit's training rows",
        changes="which affordable training set is bought (every one is stored, so the search is exact)",
        limit="exact only because all 16 cells are stored; the price of a unit is its size here, not a market "
              "price, and the best set on one slice need not be best on another.",
        grid=(("cell", "CD:all"), ("layer", "2"), ("k", "2"), ("q", "subset_scan")) + _SEED,
        lattice=(("slice", "all"), ("lens", "layer"), ("k", "2"), ("node", "CD")) + _SEED,
        lab_a=((D, "CD", "all", 0),), lab_b=((D, "ABCD", "all", 0),), compute=_lazy("budget")),
    Scenario(
        "toy-missing", "The toy grid: answers from four known rows, the rest visibly missing",
        "What can the seed's four known rows answer, and what do they leave open?", T, (T,),
        fixed="the seed's toy grid: rows AB, ABC, ABCD, ACD on slices A-D; slice B",
        changes="nothing is refitted: the questions ask for cells, and twelve rows were never measured",
        limit="missing cells are not zero: B's leave-one-out is known, but its Shapley value needs 12 cells "
              "nobody measured, so it is left unanswered rather than guessed.",
        grid=(("cell", "ABCD:B"), ("cell", "ACD:B"), ("unit", "B"), ("q", "shapley")),
        lattice=(("slice", "B"), ("node", "ABCD"), ("lens", "sweep"), ("unit", "B")),
        lab_a=((T, "ABCD", "B", None),), lab_b=((T, "ACD", "B", None),), compute=_lazy("toy_missing")),
    Scenario(
        "seeds", "Across seeds: the same grid trained with seeds 0 and 1",
        "Which cells change when only the model seed changes?", D, (D,),
        fixed="every training set and slice, the data split, the model",
        changes="the model seed: 0 → 1",
        limit="logistic regression (lbfgs) is deterministic, so the seed only reaches the uniform guesser at ∅; "
              "two seeds cannot show the spread of a seed-sensitive model (more seeds, another model).",
        grid=(("cell", "∅:all"), ("cell", "ABCD:all")),
        lattice=(("slice", "all"), ("node", "∅")),
        lab_a=((D, "*", "all", 0),), lab_b=((D, "*", "all", 1),), compute=_lazy("seeds"),
        lab_params=(("pairing", "matched"),)),
)
#: Scenarios by key.
BY_KEY = {s.key: s for s in SCENARIOS}


def get_scenario(key: str) -> Scenario:
    """A scenario by key.

    Raises
    ------
    NotFound
        On an unknown key (the message lists the keys).

    Examples
    --------
    >>> get_scenario("budget").world
    'digits'
    """
    try:
        return BY_KEY[key]
    except KeyError:
        raise NotFound(f"no scenario {key[:40]!r} (scenarios: {', '.join(BY_KEY)})") from None
