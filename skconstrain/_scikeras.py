"""The only module that touches scikeras: its KerasRegressor, with the fixes it needs.

scikeras 0.13 predates scikit-learn 1.6 and Keras 3's seeding. Each fix below is
pinned by a test in ``tests/test_scikeras.py``, so that the adapter could be
swapped without touching the rest of the library:

1. Tags. scikeras declares its tags with ``_more_tags``, which scikit-learn >= 1.6
   ignores, and its ``BaseEstimator`` comes before ``RegressorMixin`` in the MRO:
   ``is_regressor`` is False and ``VotingRegressor``/``StackingRegressor`` refuse
   it. Fixed with ``__sklearn_tags__`` (regressor, multi-output).
2. Output width. When the model's output width differs from the number of target
   columns, scikeras reshapes the predictions silently (a 2-column y and a 1-unit
   model gave 25 rows of predictions for 50 inputs). Fixed: an error at fit.
3. Feature names and counts. scikeras records no ``feature_names_in_`` and does
   not check the number of features at predict. Fixed with scikit-learn's
   ``validate_data``, which also gives its standard messages for NaN, inf, sparse
   and wrongly shaped input.
4. Predict latency and retracing warnings. scikeras predicts through
   ``Model.predict`` (a traced function per model: tens of ms for one row).
   Fixed: the model is called directly, in chunks of ``_PREDICT_CHUNK`` rows.
   Every fit builds a new network whose train step TensorFlow traces once; its
   heuristic counts these first traces of distinct networks as retracing of one
   function and warns after five fits (every grid search). ``fit`` filters that
   one message from the "tensorflow" logger while it runs.
5. Shapes. 1-D y gives 1-D predictions and 2-D y gives 2-D, also for one row.
6. Seeding. Under Keras 3, scikeras's ``random_state`` does not reset Keras's
   global seed generator, so two fits with the same ``random_state`` in one
   process start from different weights. Fixed with
   ``keras.utils.set_random_seed``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import keras
import numpy as np
from scikeras.wrappers import KerasRegressor
from sklearn.base import RegressorMixin
from sklearn.utils._tags import RegressorTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["KerasRegressorAdapter"]

_RETRACING = "triggered tf.function retracing"


class _NoRetracingWarning(logging.Filter):
    def filter(self, record):
        return _RETRACING not in record.getMessage()


@contextmanager
def _first_traces_expected():
    """Silence TensorFlow's retracing warning, which each new network triggers."""
    logger = logging.getLogger("tensorflow")
    quiet = _NoRetracingWarning()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


_PREDICT_CHUNK = 8192
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class KerasRegressorAdapter(KerasRegressor):
    """scikeras's ``KerasRegressor`` with the fixes listed in the module docstring.

    Subclasses define ``__init__`` (their hyperparameters) and
    ``_build_model(meta)`` returning a compiled Keras model; they may add
    callbacks with ``_extra_callbacks()``.
    """

    # scikeras reads these; as class attributes they are not hyperparameters of
    # our estimators (scikeras lists instance attributes as parameters).
    build_fn = None
    warm_start = False
    optimizer = "adam"
    loss = None
    metrics = None
    validation_batch_size = None
    callbacks = None
    validation_split = 0.0
    run_eagerly = False

    # ---------------------------------------------------------------- fix 1
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.non_deterministic = getattr(self, "random_state", None) is None
        return tags

    # ---------------------------------------------------------------- fix 3
    def _validate_data(self, X=None, y=None, reset=False, y_numeric=True):
        """Validate with scikit-learn; X as float32 or float64 rows, y numeric."""
        if X is None:  # scikeras never validates y alone
            raise ValueError("X is required.")
        if y is None:
            X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        else:
            X, y = validate_data(
                self,
                X,
                y,
                reset=reset,
                dtype=[np.float32, np.float64],
                multi_output=True,
                y_numeric=True,
            )
            if y.ndim == 2 and y.shape[1] == 0:
                raise ValueError("y has no columns.")
        if X.dtype == np.float64 and X.size and np.abs(X).max() > _FLOAT32_MAX:
            raise ValueError(
                "X has values beyond the float32 range (about 3.4e38), in which "
                "the Keras model computes; scale the features first."
            )
        if reset and y is not None:
            self.X_shape_ = X.shape
            self.y_ndim_ = y.ndim
        return X, y

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Train the network (scikeras's fit, without the retracing warning)."""
        with _first_traces_expected():
            return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    # -------------------------------------------------------- model building
    def _check_model_param(self):
        # scikeras calls the function returned here with the arguments its
        # signature names (``meta``); ``_build_model`` handles ``model`` itself.
        return self._build_model

    def _build_model(self, meta):  # pragma: no cover - subclasses define it
        raise NotImplementedError

    # ---------------------------------------------------------------- fix 6
    def _initialize(self, X, y=None):
        seed = self.random_state
        if isinstance(seed, np.random.RandomState):
            seed = int(seed.randint(2**31 - 1))
        if seed is not None:
            keras.utils.set_random_seed(int(seed))
        out = super()._initialize(X, y)
        # Seeded above; scikeras's own seeding context around ``Model.fit`` would
        # also switch on TensorFlow's op determinism, which slows training and
        # is not needed for reproducible runs on CPU.
        self._random_state = None
        return out

    def _extra_callbacks(self):
        """Callbacks the subclass adds to every fit."""
        return []

    def _initialize_callbacks(self):
        super()._initialize_callbacks()
        self._fit_callbacks = self._fit_callbacks + self._extra_callbacks()

    # ---------------------------------------------------------------- fix 2
    def _check_model_compatibility(self, y):
        width = self.model_.outputs[0].shape[-1]
        n_targets = 1 if y.ndim == 1 else y.shape[1]
        if len(self.model_.outputs) != 1 or width != n_targets:
            raise ValueError(
                f"The model has {len(self.model_.outputs)} output(s) of width "
                f"{width}, but y has {n_targets} column(s); the model must end in "
                f"one output with {n_targets} unit(s)."
            )

    # ------------------------------------------------------------ fixes 4, 5
    def _predict_network(self, X):
        """Validated X -> raw network output, float64, shape (n, n_outputs)."""
        check_is_fitted(self, "model_")
        X, _ = self._validate_data(X, reset=False)
        chunks = [
            keras.ops.convert_to_numpy(
                self.model_(
                    X[i : i + _PREDICT_CHUNK].astype(np.float32), training=False
                )
            )
            for i in range(0, X.shape[0], _PREDICT_CHUNK)
        ]
        return np.concatenate(chunks).astype(np.float64)

    def _postprocess(self, pred):
        """Hook on the network's output (n, n_outputs) before reshaping."""
        return pred

    def predict(self, X):
        """Predict with the network (for ``output_strategy="post"``, then project).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            float64; 1-D when ``y`` was 1-D in ``fit``.
        """
        pred = self._postprocess(self._predict_network(X))
        return pred.ravel() if self.y_ndim_ == 1 else pred

    def score(self, X, y, sample_weight=None):
        """R^2 of ``predict(X)``, as :meth:`sklearn.base.RegressorMixin.score`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return RegressorMixin.score(self, X, y, sample_weight=sample_weight)

    @available_if(lambda est: False)
    def partial_fit(self, X, y, sample_weight=None, **kwargs):  # pragma: no cover
        """Not supported: fit rebuilds the network and its penalty scaling."""
        raise NotImplementedError
