"""Models by short name or dotted path, and metrics by scikit-learn scorer name, for either task.

A world's task is ``"classification"`` or ``"regression"`` (:data:`TASKS`). A
short model name means the task's own estimator (``tree`` is a decision-tree
classifier or regressor); a dotted path must name a class of the task's kind;
a metric must be a scorer of the task's kind: scikit-learn's, or one of
cfgraph's own (:data:`CFGRAPH_METRICS`, scorers with scikit-learn's call signature).

``knn-utility`` (:class:`~cfgraph.knn_utility.KNNUtilityClassifier`, :class:`~cfgraph.knn_utility.KNNUtilityRegressor`) is
the K-nearest-neighbour utility of KNN-Shapley (Jia et al. 2019): with metric
``true_class_probability`` (or ``neg_mean_squared_error``) a world's cells are the
utility whose exact Shapley values :mod:`cfgraph.values.knn` computes in closed form.
"""

from __future__ import annotations

import ast
import importlib
import re

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier, is_regressor
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    get_scorer,
    get_scorer_names,
    jaccard_score,
    log_loss,
    make_scorer,
    precision_score,
    recall_score,
    roc_auc_score,
    top_k_accuracy_score,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from cfgraph.errors import CfgraphError
from cfgraph.knn_utility import KNNUtilityClassifier, KNNUtilityRegressor, TrueClassProbabilityScorer

#: The supervised tasks a world may have.
TASKS = ("classification", "regression")

#: Short names of the built-in models, per task.
MODELS = {
    "classification": {
        "logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "gnb": GaussianNB,
        "tree": DecisionTreeClassifier,
        "knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier()),
        "forest": lambda: RandomForestClassifier(n_estimators=100),
        "gbc": GradientBoostingClassifier,
        "knn-utility": lambda: KNNUtilityClassifier(),
    },
    "regression": {
        "ridge": lambda: make_pipeline(StandardScaler(), Ridge()),
        "linear": LinearRegression,
        "tree": DecisionTreeRegressor,
        "knn": lambda: make_pipeline(StandardScaler(), KNeighborsRegressor()),
        "forest": lambda: RandomForestRegressor(n_estimators=100),
        "gbr": GradientBoostingRegressor,
        "knn-utility": lambda: KNNUtilityRegressor(),
    },
}

#: What each task calls its estimators, for messages.
_KIND = {"classification": "classifier", "regression": "regressor"}


def check_task(task: str) -> str:
    """``task`` if it is one of :data:`TASKS`.

    Raises
    ------
    CfgraphError
        Otherwise.

    Examples
    --------
    >>> check_task("regression")
    'regression'
    """
    if task not in TASKS:
        raise CfgraphError(f"unknown task {task!r} (use classification or regression)")
    return task


def make_estimator(spec: str, seed: int | None = None, task: str = "classification") -> BaseEstimator:
    """Build an unfitted classifier or regressor from a spec.

    Parameters
    ----------
    spec : str
        A short name or a dotted path to a scikit-learn estimator class
        (``sklearn.svm.SVC``); either may carry literal keyword arguments:
        ``knn(n_neighbors=3)``, ``sklearn.svm.SVR(C=2.0)``. Short names for
        classification: logreg (standard scaling + logistic regression), gnb,
        tree, knn (scaling + 5-nearest-neighbours), forest (100 trees), gbc
        (gradient boosting); for regression: ridge (scaling + ridge), linear
        (least squares), tree, knn (scaling + 5-nearest-neighbours), forest,
        gbr (gradient boosting). For either task, knn-utility is the unscaled
        K-nearest-neighbour utility of KNN-Shapley (:class:`KNNUtilityClassifier`,
        :class:`KNNUtilityRegressor`; ``knn-utility(n_neighbors=3)``).
    seed : int, optional
        Sets every ``random_state`` parameter the estimator has.
    task : {"classification", "regression"}
        The estimator must be a classifier, or a regressor.

    Returns
    -------
    sklearn.base.BaseEstimator
        Unfitted.

    Raises
    ------
    CfgraphError
        On an unknown task or name, a name or class of the other task's kind,
        or bad arguments.

    Examples
    --------
    >>> make_estimator("knn(n_neighbors=3)").get_params()["kneighborsclassifier__n_neighbors"]
    3
    >>> type(make_estimator("tree", task="regression")).__name__
    'DecisionTreeRegressor'
    """
    check_task(task)
    name, kwargs = _parse_spec(spec)
    models = MODELS[task]
    if name in models:
        estimator = models[name]()
        if kwargs and isinstance(estimator, Pipeline):
            last = estimator.steps[-1][0]
            kwargs = {f"{last}__{k}": v for k, v in kwargs.items()}
    elif "." in name:
        module_name, _, attr = name.rpartition(".")
        check_module(module_name)  # before anything is imported: importing runs the module's code
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            raise CfgraphError(f"cannot import model {name[:120]!r}") from None
        if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
            raise CfgraphError(f"{name!r} is not a scikit-learn estimator class")
        try:
            estimator = cls()
        except Exception as exc:  # a constructor that needs arguments
            raise CfgraphError(f"cannot build {name!r}: {exc}") from None
        if not (is_classifier(estimator) if task == "classification" else is_regressor(estimator)):
            raise CfgraphError(f"{name!r} is not a scikit-learn {_KIND[task]}, which a {task} task needs")
    else:
        other = TASKS[1 - TASKS.index(task)]
        if name in MODELS[other]:
            raise CfgraphError(f"model {name!r} is a {_KIND[other]}; a {task} task uses "
                               f"{', '.join(models)} or a dotted path to a {_KIND[task]} class")
        raise CfgraphError(f"unknown model {name!r} (use {', '.join(models)} or a dotted path "
                           f"like {'sklearn.svm.SVC' if task == 'classification' else 'sklearn.svm.SVR'})")
    try:
        estimator.set_params(**kwargs)
    except ValueError as exc:
        raise CfgraphError(f"bad parameter for model {spec!r}: {str(exc).splitlines()[0]}") from None
    if seed is not None:
        seeded = {k: seed for k in estimator.get_params() if k == "random_state" or k.endswith("__random_state")}
        estimator.set_params(**seeded)
    return clone(estimator)


#: Top-level packages whose estimator classes a model spec may name by dotted path: scikit-learn,
#: cfgraph, and diffprivlib (a dependency, whose models the DP variants train).
DEFAULT_MODULES = ("sklearn", "cfgraph", "diffprivlib")
#: The environment variable (comma-separated package names) that allows more packages.
ALLOW_MODULES_ENV = "CFGRAPH_ALLOW_MODULES"


def allowed_modules() -> tuple[str, ...]:
    """The top-level packages a dotted model path may come from.

    scikit-learn, cfgraph and diffprivlib, plus those named in ``$CFGRAPH_ALLOW_MODULES``
    (comma-separated; ``cfgraph --allow-module mypkg ...`` sets it for one command).
    Read from the environment, never from a database: a world's stored spec
    cannot widen the list.

    Examples
    --------
    >>> "sklearn" in allowed_modules()
    True
    """
    import os

    extra = [m.strip() for m in os.environ.get(ALLOW_MODULES_ENV, "").split(",") if m.strip()]
    return tuple(dict.fromkeys(DEFAULT_MODULES + tuple(extra)))


def allow_modules(names) -> None:
    """Allow dotted model paths from more top-level packages, for this process and its workers.

    Raises
    ------
    CfgraphError
        If a name is not a plain package name (``mypkg``, not ``.x`` or ``a-b``).
    """
    import os

    names = [n.strip() for n in names if n.strip()]
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise CfgraphError(f"a module to allow is a package name like mypkg, not {name[:60]!r}")
    os.environ[ALLOW_MODULES_ENV] = ",".join(dict.fromkeys(allowed_modules()[len(DEFAULT_MODULES):] + tuple(names)))


def check_module(module_name: str) -> str:
    """Refuse a module outside the allowed packages, before it is imported.

    Raises
    ------
    CfgraphError
        On an empty or relative module name, or one whose top-level package is
        not allowed (see :func:`allowed_modules`).

    Examples
    --------
    >>> check_module("sklearn.svm")
    'sklearn.svm'
    >>> check_module("os")
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: model module 'os' is not in an allowed package (sklearn, cfgraph, diffprivlib); if you trust it, allow 'os' explicitly (cfgraph --allow-module or $CFGRAPH_ALLOW_MODULES)
    """
    parts = module_name.split(".")
    if not module_name or not all(part.isidentifier() for part in parts):
        raise CfgraphError(f"a model path needs a module and a class, like sklearn.svm.SVC, not {module_name[:80]!r}")
    allowed = allowed_modules()
    if parts[0] not in allowed:
        raise CfgraphError(f"model module {module_name[:80]!r} is not in an allowed package ({', '.join(allowed)}); "
                           f"if you trust it, allow {parts[0][:40]!r} explicitly (cfgraph --allow-module "
                           f"or ${ALLOW_MODULES_ENV})")
    return module_name


def _dotted_name(node) -> str | None:
    """``a.b.C`` from a Name / Attribute chain, else None (a call, a subscript, a lambda ...)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted_name(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


#: A short model name may join words with hyphens (``knn-utility``).
_HYPHENATED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+")


def _parse_spec(spec: str) -> tuple[str, dict]:
    """A model spec as (name, literal keyword arguments); never evaluates code.

    Raises
    ------
    CfgraphError
        On anything but ``NAME`` or ``NAME(key=literal, ...)``: positional
        arguments, ``**mapping``, a keyword given twice, a name that is not a
        dotted path, a value that is not a literal.
    """
    spec = str(spec).strip()
    head, paren, arguments = spec.partition("(")
    hyphenated = _HYPHENATED.fullmatch(head.strip()) is not None
    if not paren:
        if not (hyphenated or all(part.isidentifier() for part in spec.split("."))):
            raise CfgraphError(f"cannot parse model spec {spec[:80]!r}: write NAME or NAME(key=value, ...)")
        return spec, {}
    try:
        # Python would read knn-utility(...) as a subtraction: parse the arguments under a stand-in name.
        call = ast.parse(f"_({arguments}" if hyphenated else spec, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise CfgraphError(f"cannot parse model spec {spec[:80]!r}: write NAME(key=value, ...)") from None
    if not isinstance(call, ast.Call) or _dotted_name(call.func) is None:
        raise CfgraphError(f"cannot parse model spec {spec[:80]!r}: write NAME(key=value, ...)")
    if call.args or any(kw.arg is None for kw in call.keywords):
        raise CfgraphError(f"model spec {spec[:80]!r}: use plain keyword arguments (key=value), "
                           "not positional arguments or **mapping")
    keys = [kw.arg for kw in call.keywords]
    if len(set(keys)) != len(keys):
        repeated = next(k for k in keys if keys.count(k) > 1)
        raise CfgraphError(f"model spec {spec[:80]!r}: keyword {repeated!r} is given twice")
    try:
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise CfgraphError(f"model spec {spec[:80]!r}: parameters must be literal values "
                           "(numbers, strings, True/False/None, lists)") from None
    return head.strip() if hyphenated else _dotted_name(call.func), kwargs


#: Metrics of cfgraph's own, as scikit-learn scorers: name -> (task, scorer given the task's sorted classes or None).
CFGRAPH_METRICS = {
    "true_class_probability": ("classification", lambda classes: TrueClassProbabilityScorer()),
}


#: Scorers that read class probabilities; with a task's classes they get ``labels=``, so a
#: slice holding one or two classes is scored against the task's full label set.
PROBA_METRICS = {
    "neg_log_loss": lambda classes: make_scorer(log_loss, greater_is_better=False,
                                                response_method="predict_proba", labels=classes),
    "roc_auc_ovr": lambda classes: make_scorer(roc_auc_score, response_method="predict_proba",
                                               multi_class="ovr", labels=classes),
    "roc_auc_ovo": lambda classes: make_scorer(roc_auc_score, response_method="predict_proba",
                                               multi_class="ovo", labels=classes),
    "roc_auc_ovr_weighted": lambda classes: make_scorer(roc_auc_score, response_method="predict_proba",
                                                        multi_class="ovr", average="weighted", labels=classes),
    "roc_auc_ovo_weighted": lambda classes: make_scorer(roc_auc_score, response_method="predict_proba",
                                                        multi_class="ovo", average="weighted", labels=classes),
    "top_k_accuracy": lambda classes: make_scorer(top_k_accuracy_score, labels=classes,
                                                  response_method=("decision_function", "predict_proba")),
    "neg_brier_score": lambda classes: make_scorer(brier_score_loss, greater_is_better=False,
                                                   response_method="predict_proba", labels=classes,
                                                   **({"pos_label": classes[1]} if len(classes) == 2 else {})),
}
#: Binary scorers whose positive class scikit-learn assumes to be 1; with string labels
#: the positive class is the task's second class in sorted order.
POS_LABEL_METRICS = {
    "f1": f1_score, "precision": precision_score, "recall": recall_score, "jaccard": jaccard_score,
}


def metric_task(name: str) -> str:
    """The task a scikit-learn scorer is for: ``"regression"`` if its metric compares numbers, else ``"classification"``.

    Read from where scikit-learn defines the metric (``sklearn.metrics._regression``),
    not from a list of names.

    Examples
    --------
    >>> metric_task("neg_mean_absolute_error"), metric_task("f1_macro")
    ('regression', 'classification')
    """
    if name in CFGRAPH_METRICS:
        return CFGRAPH_METRICS[name][0]
    module = getattr(get_scorer(name)._score_func, "__module__", "")
    return "regression" if module.endswith("_regression") else "classification"


#: Metrics named in messages, per task.
_SUGGESTED = {
    "classification": "accuracy, balanced_accuracy, f1_macro, neg_log_loss",
    "regression": "r2, neg_mean_squared_error, neg_mean_absolute_error, neg_root_mean_squared_error",
}


def check_metric(name: str, classes=None, task: str = "classification"):
    """The scikit-learn scorer called ``name``, adapted to the task's classes.

    Parameters
    ----------
    name : str
        A scikit-learn scorer name (``accuracy``, ``f1_macro``, ``neg_log_loss``,
        ``r2``, ``neg_mean_squared_error`` ...), or one of cfgraph's own
        (:data:`CFGRAPH_METRICS`): ``true_class_probability``, the mean predicted
        probability of each row's true class (:func:`true_class_probability`; the
        KNN-Shapley utility with model ``knn-utility``).
    classes : array-like, optional
        The task's classes, sorted (classification only). Probability scorers
        (``neg_log_loss``, ``neg_brier_score``, ``roc_auc_ovr``, ``top_k_accuracy`` ...)
        then score against all of them, and the binary scorers ``f1``,
        ``precision``, ``recall``, ``jaccard`` and ``average_precision`` take the
        second class as the positive one.
    task : {"classification", "regression"}
        The metric must be of the task's kind.

    Returns
    -------
    sklearn.metrics._scorer._Scorer
        Called as ``scorer(fitted_model, X, y_true)``; greater is better.

    Raises
    ------
    CfgraphError
        If scikit-learn has no scorer of that name, or it is for the other task.

    Examples
    --------
    >>> check_metric("r2", task="regression")
    make_scorer(r2_score, response_method='predict')
    >>> check_metric("true_class_probability", ["a", "b", "c"])
    TrueClassProbabilityScorer()
    >>> check_metric("r2")
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: r2 is a regression metric and this is a classification task: use accuracy, balanced_accuracy, f1_macro, neg_log_loss
    """
    check_task(task)
    if name not in CFGRAPH_METRICS and name not in get_scorer_names():
        raise CfgraphError(f"unknown metric {name!r} (a scikit-learn scorer name, e.g. {_SUGGESTED[task]})")
    kind = metric_task(name)
    if kind != task:
        raise CfgraphError(f"{name} is a {kind} metric and this is a {task} task: use {_SUGGESTED[task]}")
    if name in CFGRAPH_METRICS:
        return CFGRAPH_METRICS[name][1](classes)
    if classes is not None and name in PROBA_METRICS:
        return PROBA_METRICS[name](list(classes))
    if classes is not None and name in POS_LABEL_METRICS and len(classes) == 2:
        return make_scorer(POS_LABEL_METRICS[name], pos_label=classes[1])
    if classes is not None and name == "average_precision" and len(classes) == 2:
        return make_scorer(average_precision_score, pos_label=classes[1],
                           response_method=("decision_function", "predict_proba"))
    return get_scorer(name)


class AllClasses(ClassifierMixin, BaseEstimator):
    """A fitted classifier seen through the task's full set of classes.

    A model trained on a training set that lacks some classes knows only the
    classes it saw; its probability for the others is 0. This view reports
    ``classes_`` as the task's classes and pads ``predict_proba`` with zero
    columns, so probability scorers compare like with like on every cell.
    """

    def __init__(self, model=None, classes=None):
        self.model = model
        self.classes = classes

    def fit(self, X, y=None):  # pragma: no cover - wraps an already fitted model
        raise NotImplementedError("AllClasses wraps a fitted model")

    @property
    def classes_(self):
        return np.asarray(self.classes)

    def predict(self, X):
        return self.model.predict(X)

    def predict_proba(self, X):
        seen = self.model.predict_proba(X)
        out = np.zeros((len(X), len(self.classes)))
        out[:, np.searchsorted(self.classes, self.model.classes_)] = seen
        return out

    def __sklearn_is_fitted__(self):
        return True
