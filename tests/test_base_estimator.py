"""The base's extension surface: a new estimator is its __init__ and hooks.

A median (absolute-error) regressor written as a user of the base would:
an explicit signature forwarding the shared hyperparameters, the two
required hooks and a Loss. Everything else (validation, the network, the
engine, early stopping, persistence, the scikit-learn surface) is the
base's.
"""

import pickle

import numpy as np
import pytest
from keras import ops
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skconstrain._base_estimator import BaseConstrainedRegressor, Loss


def _absolute(y, p):
    return ops.abs(y - p)


class MedianRegressor(BaseConstrainedRegressor):
    """Median regression: the absolute error, no output set."""

    def __init__(
        self,
        model=None,
        *,
        hidden_layer_sizes=(16,),
        activation="relu",
        monotonic_cst=None,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.5,
        kernel_constraint=None,
        bias_constraint=None,
        output_strategy="project",
        output_penalty="quadratic",
        output_penalty_strength=1.0,
        ensemble_size=1,
        epochs=30,
        batch_size=None,
        learning_rate=1e-2,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        shuffle=True,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            model=model,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            monotonic_cst=monotonic_cst,
            penalty=penalty,
            l1_ratio=l1_ratio,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            output_strategy=output_strategy,
            output_penalty=output_penalty,
            output_penalty_strength=output_penalty_strength,
            ensemble_size=ensemble_size,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            shuffle=shuffle,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
        )
        self.alpha = alpha

    def _output_params(self, n_outputs=None):
        return None

    def _check_output_hyperparameters(self):
        pass

    def _loss(self, output_set):
        return Loss(
            row_loss=lambda y, p: ops.sum(_absolute(y, p), axis=-1),
            column_loss=_absolute,
        )


class MeanRegressor(MedianRegressor):
    """The same hyperparameters, the squared error."""

    def _loss(self, output_set):
        return Loss()


@pytest.fixture(scope="module")
def skewed():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    # the noise's median is 0, its mean 1: the median regressor tracks x0
    y = X[:, 0] + rng.exponential(size=300) - np.log(2)
    return X, y


def test_a_new_estimator_is_its_init_and_hooks(skewed):
    X, y = skewed
    est = MedianRegressor(random_state=0, early_stopping=True)
    with pytest.raises(NotFittedError):
        est.predict(X)
    est.fit(X, y)
    check_is_fitted(est)
    residual = y - est.predict(X)
    # the absolute error was trained: about half the residuals on each side
    # (the squared error's mean lies above the median: e^-1 of them above)
    assert 0.42 < np.mean(residual > 0) < 0.58
    assert "val_loss" in est.history_  # its column loss, validated
    assert clone(est).get_params() == est.get_params()
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(back.predict(X), est.predict(X))
    est.partial_fit(X, y)  # continues the same network
    assert est.n_iter_ == len(est.loss_curve_)


def test_estimators_of_other_losses_never_share_an_engine(skewed):
    # the same hyperparameters and shapes, another class: another loss, so
    # another compiled epoch (the engine's key holds the estimator's class)
    X, y = skewed
    median = MedianRegressor(random_state=0).fit(X, y)
    mean = MeanRegressor(random_state=0).fit(X, y)
    assert np.mean(y - median.predict(X) > 0) > 0.42
    assert np.mean(y - mean.predict(X) > 0) < 0.42


def test_a_failed_new_fit_leaves_it_unfitted(skewed):
    X, y = skewed
    est = MedianRegressor(epochs=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        est.set_params(hidden_layer_sizes=(0,)).fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
