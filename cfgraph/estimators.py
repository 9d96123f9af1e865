"""Models by short name or dotted path, and metrics by scikit-learn scorer name."""

from __future__ import annotations

import ast
import importlib

from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from cfgraph.errors import CfgraphError

#: Short names of the built-in models.
MODELS = {
    "logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    "gnb": GaussianNB,
    "tree": DecisionTreeClassifier,
    "knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier()),
    "forest": lambda: RandomForestClassifier(n_estimators=100),
}


def make_estimator(spec: str, seed: int | None = None) -> BaseEstimator:
    """Build an unfitted classifier from a spec.

    Parameters
    ----------
    spec : str
        A short name (logreg = standard scaling + logistic regression, gnb,
        tree, knn = scaling + 5-nearest-neighbours, forest), or a dotted path to
        a scikit-learn classifier class (``sklearn.svm.SVC``); either may carry
        literal keyword arguments: ``knn(n_neighbors=3)``, ``sklearn.svm.SVC(C=2.0)``.
    seed : int, optional
        Sets every ``random_state`` parameter the estimator has.

    Raises
    ------
    CfgraphError
        On an unknown name, a path that is not a classifier, or bad arguments.

    Examples
    --------
    >>> make_estimator("knn(n_neighbors=3)").get_params()["kneighborsclassifier__n_neighbors"]
    3
    """
    name, kwargs = _parse_spec(spec)
    if name in MODELS:
        estimator = MODELS[name]()
        if kwargs and isinstance(estimator, Pipeline):
            last = estimator.steps[-1][0]
            kwargs = {f"{last}__{k}": v for k, v in kwargs.items()}
    elif "." in name:
        module_name, _, attr = name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            raise CfgraphError(f"cannot import model {name!r}") from None
        if not (isinstance(cls, type) and issubclass(cls, BaseEstimator) and issubclass(cls, ClassifierMixin)):
            raise CfgraphError(f"{name!r} is not a scikit-learn classifier class")
        try:
            estimator = cls()
        except Exception as exc:  # a constructor that needs arguments
            raise CfgraphError(f"cannot build {name!r}: {exc}") from None
    else:
        raise CfgraphError(f"unknown model {name!r} (use {', '.join(MODELS)} or a dotted path like sklearn.svm.SVC)")
    try:
        estimator.set_params(**kwargs)
    except ValueError as exc:
        raise CfgraphError(f"bad parameter for model {spec!r}: {str(exc).splitlines()[0]}") from None
    if seed is not None:
        seeded = {k: seed for k in estimator.get_params() if k == "random_state" or k.endswith("__random_state")}
        estimator.set_params(**seeded)
    return clone(estimator)


def _parse_spec(spec: str) -> tuple[str, dict]:
    spec = spec.strip()
    if "(" not in spec:
        return spec, {}
    try:
        call = ast.parse(spec, mode="eval").body
        if not isinstance(call, ast.Call) or call.args:
            raise ValueError("use keyword arguments only")
        name = ast.unparse(call.func)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except (SyntaxError, ValueError) as exc:
        raise CfgraphError(f"cannot parse model spec {spec!r}: {exc}") from None
    return name, kwargs


def check_metric(name: str):
    """The scikit-learn scorer called ``name``.

    Raises
    ------
    CfgraphError
        If scikit-learn has no scorer of that name.
    """
    if name not in get_scorer_names():
        raise CfgraphError(
            f"unknown metric {name!r} (a scikit-learn scorer name, e.g. accuracy, balanced_accuracy, f1_macro, neg_log_loss)"
        )
    return get_scorer(name)
