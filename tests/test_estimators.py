"""Models by short name or dotted path, and metrics by scorer name, checked against the task."""

import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.pipeline import Pipeline

from cfgraph.errors import CfgraphError
from cfgraph.estimators import MODELS, check_metric, make_estimator, metric_task


def final_step(estimator):
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_short_name_builds_an_estimator_of_its_task(task):
    check = is_classifier if task == "classification" else is_regressor
    for name in MODELS[task]:
        assert check(final_step(make_estimator(name, seed=3, task=task))), name


def test_the_same_short_name_means_the_tasks_own_class():
    assert type(make_estimator("tree")).__name__ == "DecisionTreeClassifier"
    assert type(make_estimator("tree", task="regression")).__name__ == "DecisionTreeRegressor"
    forest = make_estimator("forest(n_estimators=7)", seed=5, task="regression")
    assert type(forest).__name__ == "RandomForestRegressor"
    assert forest.get_params()["n_estimators"] == 7 and forest.get_params()["random_state"] == 5
    assert make_estimator("knn(n_neighbors=2)", task="regression").get_params()["kneighborsregressor__n_neighbors"] == 2


def test_a_name_of_the_other_task_is_refused_with_what_to_use():
    with pytest.raises(CfgraphError, match="'ridge' is a regressor; a classification task uses logreg"):
        make_estimator("ridge")
    with pytest.raises(CfgraphError, match="'gnb' is a classifier; a regression task uses ridge"):
        make_estimator("gnb", task="regression")
    with pytest.raises(CfgraphError, match="unknown model 'nope'"):
        make_estimator("nope", task="regression")


def test_a_dotted_path_must_be_of_the_tasks_kind():
    assert type(make_estimator("sklearn.svm.SVR(C=2.0)", task="regression")).__name__ == "SVR"
    assert type(make_estimator("sklearn.svm.SVC")).__name__ == "SVC"
    with pytest.raises(CfgraphError, match="not a scikit-learn regressor"):
        make_estimator("sklearn.svm.SVC", task="regression")
    with pytest.raises(CfgraphError, match="not a scikit-learn classifier"):
        make_estimator("sklearn.linear_model.Ridge")
    with pytest.raises(CfgraphError, match="not a scikit-learn estimator"):
        make_estimator("sklearn.utils.Bunch")
    with pytest.raises(CfgraphError, match="not in an allowed package"):
        make_estimator("numpy.ndarray")
    with pytest.raises(CfgraphError, match="unknown task"):
        make_estimator("tree", task="ranking")


def test_metrics_are_refused_on_the_other_task_in_one_line():
    with pytest.raises(CfgraphError) as caught:
        check_metric("accuracy", task="regression")
    assert str(caught.value) == ("accuracy is a classification metric and this is a regression task: use r2, "
                                 "neg_mean_squared_error, neg_mean_absolute_error, neg_root_mean_squared_error")
    with pytest.raises(CfgraphError, match="neg_mean_squared_error is a regression metric"):
        check_metric("neg_mean_squared_error", [0, 1])
    with pytest.raises(CfgraphError, match="unknown metric 'rsquared'"):
        check_metric("rsquared", task="regression")


@pytest.mark.parametrize("name", ["r2", "neg_mean_squared_error", "neg_mean_absolute_error",
                                  "neg_root_mean_squared_error", "explained_variance", "neg_median_absolute_error",
                                  "neg_max_error", "d2_absolute_error_score"])
def test_regression_scorers_are_regression_metrics(name):
    assert metric_task(name) == "regression"
    check_metric(name, task="regression")


@pytest.mark.parametrize("name", ["accuracy", "balanced_accuracy", "f1_macro", "neg_log_loss", "roc_auc_ovr",
                                  "top_k_accuracy", "matthews_corrcoef", "adjusted_rand_score"])
def test_classification_scorers_are_classification_metrics(name):
    assert metric_task(name) == "classification"
    check_metric(name, [0, 1, 2])
