"""``ConstrainedRegressorCV``: ``alpha`` chosen by cross-validation, the
search trained as one stack of networks (public in
:mod:`skconstrain.estimators`)."""

from __future__ import annotations

import dataclasses
import time
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils import (
    _safe_indexing,  # what scikit-learn indexes folds with
    check_random_state,
)

# private, and what every scikit-learn estimator validates its parameters with
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (  # the helpers LassoCV and
    MetadataRouter,  # GridSearchCV route metadata with (private names of a
    MethodMapping,  # public module)
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
)

from skconstrain import _fit_data, _networks, _reports, _training, _validation
from skconstrain._base_estimator import (
    ENSEMBLE_SIZE,
    BaseConstrainedRegressor,
)
from skconstrain._regressor import ConstrainedRegressor


def _has_refit(search):
    """Whether a search has a refitted network to continue (else, why not)."""
    if not hasattr(search, "alpha_") or not search.__sklearn_is_fitted__():
        raise AttributeError(
            f"{type(search).__name__}.partial_fit continues the network that "
            "fit refitted with the chosen alpha_; call fit first (it searches "
            "'alphas'), with refit=True."
        )
    return True


class ConstrainedRegressorCV(ConstrainedRegressor):
    """:class:`ConstrainedRegressor` with ``alpha`` chosen by cross-validation.

    As :class:`~sklearn.linear_model.RidgeCV` and
    :class:`~sklearn.linear_model.LassoCV` do for their ``alpha``: every value
    of ``alphas`` is fitted on the training rows of every split of ``cv`` and
    scored on the held-out rows; ``alpha_`` is the best mean score's, and the
    network is then refitted on all rows with it. The result is the same as
    ``GridSearchCV(ConstrainedRegressor(...), {"alpha": alphas}, cv=cv,
    scoring=scoring)`` (the same fits, the same scores, ``cv_results_`` in its
    format), and the fitted estimator is a :class:`ConstrainedRegressor` in
    every way (``predict``, ``score``, ``model_``, ``partial_fit`` continuing
    the refitted network, pickling).

    With the default networks (``model=None``: the MLP, or the monotone
    network with ``monotonic_cst``; an ensemble of either with
    ``ensemble_size``) and dense ``X``, the alphas x folds networks are
    trained together as one stack (of alphas x folds x members): the single
    network's epoch is vectorised over them (``jax.vmap`` /
    ``tf.vectorized_map``), and one compiled call runs an epoch of every
    member, each on its own rows, in its own order, with its own penalty
    strength, Adam state and stopping, so each trains exactly as its single
    fit would (the scores agree with ``GridSearchCV``'s to float32
    rounding, tested). On TensorFlow the refit is compiled as the stack
    was (with XLA from the start where the search's work pays for it), so
    it too equals its single fit to float32 rounding. The compiled epoch
    is kept for later searches of the same architecture and number of
    networks (of any number of rows); a stack that would take more than 1
    GiB (data, weights, optimizer state) is trained in chunks. A
    ``model``, and sparse ``X``, are fitted one after another (or in
    ``n_jobs`` threads: the compiled epochs release the GIL, and no worker
    process imports TensorFlow).

    Use it rather than ``GridSearchCV`` over ``alpha`` alone: the same result
    in a fraction of the time (2-4.5x faster than that search on TensorFlow,
    3-6x faster than ``GridSearchCV`` over ``MLPRegressor``, for 4 x 3 to
    16 x 5 networks of 2 000 rows on 2 CPU cores; ``benchmarks/bench_cv.py``).
    Search the structural hyperparameters (``hidden_layer_sizes``,
    ``output_strategy``...) with ``GridSearchCV`` around it.

    Parameters
    ----------
    alphas : int or array-like of float, default=5
        The penalty strengths tried, each >= 0; an int: that many values
        spaced evenly on a log scale from 1e-5 to 10.
    cv : int, cross-validation generator or iterable, default=5
        As in :class:`~sklearn.model_selection.GridSearchCV`. With metadata
        routing enabled, ``groups`` passed to :meth:`fit` go to the splitter
        (``sklearn.set_config(enable_metadata_routing=True)``).
    scoring : str, callable, list, tuple, set, dict or None, default=None
        As in :class:`~sklearn.model_selection.GridSearchCV`: a scorer's
        name or a callable; None: :meth:`score` (R^2 averaged over outputs).
        Several metrics: a list, tuple or set of names, or a dict of names
        to scorers; ``refit`` then names the one that chooses ``alpha_``.
    refit : bool, str or callable, default=True
        As in :class:`~sklearn.model_selection.GridSearchCV`: True refits on
        all rows with ``alpha_``, the best mean score's (with several
        metrics, ``refit`` must instead name the metric that chooses, or be
        a callable or False); a callable takes ``cv_results_`` and returns
        the index of the chosen alpha (``best_index_``; there is no
        ``best_score_`` then). False keeps only the search's results: no
        network is refitted, so ``predict`` is unavailable (refit one with
        ``ConstrainedRegressor(alpha=...)``: ``best_params_`` or
        ``cv_results_`` say which).
    n_jobs : int or None, default=None
        Threads for the fits of the search when they are not stacked
        (joblib's threads by default; a ``joblib.parallel_backend`` context
        chooses otherwise).
    **params
        Every other hyperparameter of :class:`ConstrainedRegressor` (all but
        ``alpha``), with the same meaning.

    Attributes
    ----------
    alpha_ : float
        The chosen strength (absent when several metrics are searched with
        ``refit=False``: none chooses).
    alphas_ : ndarray
        The strengths tried.
    best_index_ : int
        The index of ``alpha_`` in ``cv_results_``'s arrays.
    best_params_ : dict
        ``{"alpha": alpha_}``.
    best_score_ : float
        The mean cross-validated score of ``alpha_`` (of the metric that
        ``refit`` names; absent when ``refit`` is a callable).
    cv_results_ : dict of ndarray
        In :class:`~sklearn.model_selection.GridSearchCV`'s format:
        ``params``, ``param_alpha``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score`` (with
        several metrics, ``_<name>`` in place of ``_score``),
        ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``,
        ``std_score_time``.
    multimetric_ : bool
        Whether several metrics were searched.
    scorer_ : callable or dict
        The scorer (with several metrics, the multi-metric scorer).
    refit_time_ : float
        Seconds the refit took (with ``refit``).
    n_splits_ : int
        The number of cross-validation splits.
    model_, history_, n_iter_, constraint_violation_, ...
        Those of :class:`ConstrainedRegressor`, for the refitted network.

    See Also
    --------
    ConstrainedRegressor : The estimator with a given ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain import ConstrainedRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 3))
    >>> y = X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=120)
    >>> reg = ConstrainedRegressorCV(
    ...     alphas=[1e-4, 1.0], cv=3, hidden_layer_sizes=(8,), epochs=3,
    ...     random_state=0,
    ... ).fit(X, y)
    >>> reg.alphas_.tolist(), sorted(reg.cv_results_)[:2]
    ([0.0001, 1.0], ['mean_fit_time', 'mean_score_time'])
    >>> reg.predict(X).shape
    (120,)
    """

    # public in skconstrain.estimators: pickles, skops and the docs name it so
    __module__ = "skconstrain.estimators"

    _parameter_constraints: dict = {
        **ConstrainedRegressor._parameter_constraints,
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "cv": ["cv_object"],
        "scoring": [
            StrOptions(set(get_scorer_names())),
            callable,
            list,
            tuple,
            set,
            dict,
            None,
        ],
        "refit": ["boolean", str, callable],
        "n_jobs": [Integral, None],
    }
    _parameter_constraints.pop("alpha")

    def __init__(
        self,
        model=None,
        *,
        alphas=5,
        cv=5,
        scoring=None,
        refit=True,
        n_jobs=None,
        hidden_layer_sizes=(100,),
        activation="relu",
        feature_encoding="auto",
        monotonic_cst=None,
        penalty="l2",
        l1_ratio=0.5,
        kernel_constraint=None,
        bias_constraint=None,
        output_constraint=None,
        output_radius=1.0,
        output_lower=None,
        output_upper=None,
        output_strategy="project",
        output_penalty="quadratic",
        output_penalty_strength=1.0,
        loss="squared_error",
        ensemble_size=ENSEMBLE_SIZE,
        epochs=200,
        batch_size=None,
        learning_rate="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        shuffle=True,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        # no alpha: the search chooses it (alpha_)
        BaseConstrainedRegressor.__init__(
            self,
            model=model,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            feature_encoding=feature_encoding,
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
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.output_constraint = output_constraint
        self.output_radius = output_radius
        self.output_lower = output_lower
        self.output_upper = output_upper
        self.loss = loss

    @property
    def alpha(self):
        """The refitted network's ``alpha``: ``alpha_`` (as a
        :class:`ConstrainedRegressor` has one); like ``alpha_``, it exists
        once :meth:`fit` has searched (no value before: the search has not
        chosen one)."""
        if not hasattr(self, "alpha_"):
            raise AttributeError(
                f"{type(self).__name__} has no alpha before fit chooses one "
                "(alpha_) among 'alphas'."
            )
        return self.alpha_

    def get_metadata_routing(self):
        """Metadata routing: ``groups`` (and any split metadata) to ``cv``.

        Returns
        -------
        routing : MetadataRouter
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=check_cv(self.cv),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
        )

    def _alphas(self):
        """The validated ``alphas`` as a 1-D float64 array."""
        alphas = self.alphas
        if isinstance(alphas, Integral) and not isinstance(alphas, bool | np.bool_):
            return np.logspace(-5, 1, int(alphas))
        message = (
            "The 'alphas' parameter of ConstrainedRegressorCV must be an int >= 1 "
            "or a 1-D array-like of finite floats >= 0, such as [1e-4, 1e-2, 1]; "
            f"got {alphas!r}."
        )
        if isinstance(alphas, bool | np.bool_ | str | bytes):
            raise ValueError(message)
        try:
            values = np.asarray(alphas)
        except (TypeError, ValueError) as exc:
            raise ValueError(message) from exc
        if values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iuf":
            raise ValueError(message)
        values = values.astype(np.float64)
        if not np.all(np.isfinite(values)) or (values < 0).any():
            raise ValueError(message)
        return values

    def _single(self, alpha):
        """The :class:`ConstrainedRegressor` of one candidate."""
        params = self.get_params(deep=False)
        for name in ("alphas", "cv", "scoring", "refit", "n_jobs"):
            params.pop(name)
        params["warm_start"] = False
        # cloned, as GridSearchCV's candidates: a RandomState is copied, so each
        # fit draws from the state the search was given
        return clone(ConstrainedRegressor(alpha=float(alpha), **params))

    def fit(self, X, y, sample_weight=None, **params):
        """Search ``alphas`` by cross-validation, then refit with ``alpha_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in every fit and in the scores of the held-out
            rows (as :class:`~sklearn.model_selection.GridSearchCV` weighs
            them).
        **params
            ``groups`` for the splitter (a group k-fold, say), as
            :meth:`sklearn.model_selection.GridSearchCV.fit` takes it; with
            metadata routing enabled, whatever the splitter requests.

        Returns
        -------
        self : ConstrainedRegressorCV
        """
        # float64 is float64 on every backend (JAX's x64 mode, scoped)
        with _training.precision():
            self._validate_params()
            alphas = self._alphas()
            multimetric = isinstance(self.scoring, list | tuple | set | dict)
            self._check_refit(multimetric)
            if not self.refit:  # no network of an earlier fit stays
                self._forget_fit(before=set(vars(self)))
            if self.penalty is None:
                warnings.warn(
                    f"{type(self).__name__}: penalty=None, so every alpha of the "
                    "search trains the same network; set a penalty ('l2', 'l1', "
                    "...) for alphas to mean something.",
                    UserWarning,
                    stacklevel=2,
                )
            elif _validation.penalizes_nothing(self):
                warnings.warn(
                    f"{type(self).__name__}: monotonic_cst constrains every "
                    "feature, so every alpha of the search trains the same "
                    "network (the monotone network's Lipschitz layers are "
                    "bounded instead of penalised); leave a feature "
                    "unconstrained for alphas to mean something.",
                    UserWarning,
                    stacklevel=2,
                )
            # The members are fitted and scored on the rows of X as given (a
            # DataFrame keeps its column names, which a monotonic_cst dict
            # needs); the stack's members take the validated arrays.
            X_valid, y_valid = self._validate_fit_data(X, y, reset=True)
            X_rows = X if hasattr(X, "iloc") else X_valid
            if sample_weight is not None:
                sample_weight = _check_sample_weight(
                    sample_weight, X_valid, dtype=np.float64, ensure_non_negative=True
                )
            if _routing_enabled():
                routed = process_routing(self, "fit", **params)
                split_params = routed.splitter.split
            else:  # as GridSearchCV: groups to the splitter
                groups = params.pop("groups", None)
                _raise_for_params(params, self, "fit")
                split_params = {"groups": groups}
            cv = check_cv(self.cv, y_valid, classifier=False)
            splits = list(cv.split(X_valid, y_valid, **split_params))
            scorer = check_scoring(self, scoring=self.scoring)
            candidates = [(a, train, test) for a in alphas for train, test in splits]
            out, stacked_xla = None, False
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if self.model is None and not sp.issparse(X_valid):
                    try:
                        out, stacked_xla = _fit_and_score_stacked(
                            self._single(alphas[0]),
                            candidates,
                            X_rows,
                            X_valid,
                            y_valid,
                            sample_weight,
                            scorer,
                        )
                    except _training.NotStackable:
                        out = None
                if out is None:  # one after another (or in n_jobs threads)
                    out = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                        delayed(_fit_and_score)(
                            self._single(alpha),
                            X_rows,
                            y_valid,
                            sample_weight,
                            train,
                            test,
                            scorer,
                        )
                        for alpha, train, test in candidates
                    )
            shape = (len(alphas), len(splits))
            scores = {
                name: np.array([o[0][name] for o in out], np.float64).reshape(shape)
                for name in out[0][0]
            }
            fit_times = np.array([o[1] for o in out]).reshape(shape)
            score_times = np.array([o[2] for o in out]).reshape(shape)
            not_converged = sum(not o[3] for o in out)
            self.cv_results_ = _cv_results(alphas, scores, fit_times, score_times)
            self.alphas_ = alphas
            self.n_splits_ = len(splits)
            self.multimetric_ = multimetric
            self.scorer_ = scorer
            self._choose(multimetric)
            refit_converged = True
            if self.refit:
                with warnings.catch_warnings(record=True) as refit_caught:
                    warnings.simplefilter("always")
                    start = time.perf_counter()
                    # on TensorFlow, compiled as the stack was (XLA from
                    # the start when it was: the search's work pays for it)
                    xla = True if stacked_xla else None
                    self._fit(X, y, sample_weight, incremental=False, xla=xla)
                    self.refit_time_ = time.perf_counter() - start
                caught += refit_caught
                refit_converged = not any(
                    issubclass(w.category, ConvergenceWarning) for w in refit_caught
                )
            _reissue(caught)
            if not_converged or not refit_converged:
                refitted = "" if refit_converged else ", and the refitted network,"
                warnings.warn(
                    f"{type(self).__name__}: {not_converged} of the {len(out)} "
                    f"networks of the search ({len(alphas)} alphas x "
                    f"{len(splits)} folds)"
                    f"{refitted} ran all epochs={self.epochs} while their loss still "
                    f"improved by more than tol={self.tol} within the last "
                    f"n_iter_no_change={self.n_iter_no_change} epochs: they have not "
                    "converged, and their scores may rank the alphas by how fast "
                    "they train rather than how well. Raise 'epochs', or 'tol' to "
                    "stop sooner.",
                    ConvergenceWarning,
                    stacklevel=2,
                )
            return self

    def _check_refit(self, multimetric):
        """``refit`` as GridSearchCV checks it: with several metrics, it
        names one of them, or is a callable or False."""
        if not multimetric or self.refit is False or callable(self.refit):
            return
        names = sorted(self.scoring)  # a dict's keys, or the names
        if not (isinstance(self.refit, str) and self.refit in names):
            raise ValueError(
                "For multi-metric scoring, the 'refit' parameter of "
                f"{type(self).__name__} must be the name of one of the metrics "
                f"({names}) or a callable, to choose alpha_ "
                "by it and refit the network with it; or False, to keep only "
                f"the scores. Got {self.refit!r}."
            )

    def _choose(self, multimetric):
        """``best_index_``, ``best_params_``, ``best_score_`` and ``alpha_``,
        from ``cv_results_`` as GridSearchCV chooses: by the rank of the
        metric ``refit`` names (of the one metric), or by ``refit``'s
        callable; nothing with several metrics and ``refit=False``."""
        if multimetric and not self.refit:
            return
        results = self.cv_results_
        if callable(self.refit):
            best = self.refit(results)
            if not isinstance(best, Integral) or isinstance(best, bool):
                raise TypeError(
                    f"The 'refit' callable of {type(self).__name__} must return "
                    f"the index of an alpha (an int); got {best!r}."
                )
            if not 0 <= best < len(results["params"]):
                raise IndexError(
                    f"The 'refit' callable of {type(self).__name__} returned "
                    f"{best}, but the search tried {len(results['params'])} "
                    "alphas."
                )
        else:
            metric = self.refit if multimetric else "score"
            best = int(np.argmin(results[f"rank_test_{metric}"]))
            self.best_score_ = float(results[f"mean_test_{metric}"][best])
        self.best_index_ = int(best)
        self.best_params_ = dict(results["params"][self.best_index_])
        self.alpha_ = float(self.alphas_[self.best_index_])

    def _check_fitted(self):
        """As the base's, with what ``refit=False`` left said."""
        if hasattr(self, "cv_results_") and not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} searched with refit=False, which "
                "leaves no network to predict with: its results are in "
                "cv_results_ (and, with one metric, best_params_). Refit with "
                "refit=True, or fit ConstrainedRegressor(alpha=...) yourself."
            )
        super()._check_fitted()

    @available_if(_has_refit)
    def partial_fit(self, X, y, sample_weight=None):
        """One more epoch of the refitted network (``alpha_``) on ``(X, y)``.

        A search has no incremental form: ``partial_fit`` exists once
        :meth:`fit` has searched ``alphas`` and refitted (``refit=True``), and
        continues that network, as :meth:`ConstrainedRegressor.partial_fit`
        does. Before, it is an ``AttributeError`` saying so.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : ConstrainedRegressorCV
        """
        return self._fit(X, y, sample_weight, incremental=True)


def _reissue(caught):
    """Warn once for each distinct warning the members of a search gave
    (each fit of a candidate checks the same hyperparameters), without their
    convergence warnings, which the search sums up in one."""
    seen = set()
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            continue
        key = (w.category, str(w.message))
        if key not in seen:
            seen.add(key)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _fit_and_score(estimator, X, y, sample_weight, train, test, scorer):
    """Fit ``estimator`` on the rows ``train``, score it on ``test``; with
    the fit's and the score's seconds, and whether the fit converged."""
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    weights = None if sample_weight is None else _safe_indexing(sample_weight, train)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X_train, y_train, sample_weight=weights)
    fit_time = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    _reissue(caught)  # to the search's own record (in this process)
    start = time.perf_counter()
    score = _score(scorer, estimator, X, y, sample_weight, test)
    return score, fit_time, time.perf_counter() - start, converged


def _score(scorer, estimator, X, y, sample_weight, test):
    """The scores on the rows ``test`` as ``{name: score}`` (one metric's
    name: ``"score"``, as in ``cv_results_``), weighted as GridSearchCV
    weighs them when ``fit`` had sample weights."""
    kwargs = {}
    if sample_weight is not None:
        kwargs["sample_weight"] = _safe_indexing(sample_weight, test)
    value = scorer(
        estimator, _safe_indexing(X, test), _safe_indexing(y, test), **kwargs
    )
    return value if isinstance(value, dict) else {"score": value}


def _stack_member(estimator, X, y, sample_weight, alpha, random_state):
    """A new fit of the default network at ``alpha`` on validated rows, as
    :meth:`BaseConstrainedRegressor._prepare_fit` prepares it (same rows,
    seeds, scalings), but as a member of a stack: no network is built. The
    estimator must have been prepared for data of this kind; its seeds are
    drawn from ``random_state`` (a generator is copied, not advanced).

    Returns ``(plan, member, x_scaling)``: the
    :class:`skconstrain._fit_data.FitPlan`, the
    :class:`skconstrain._training.Member` and the input scaling.
    """
    spec = estimator._spec
    n_bins = _validation.input_bins(
        estimator, X, _training.DENSE_LIMIT, spec.monotonic_cst
    )
    if n_bins != spec.input_bins or (
        n_bins and _validation.free_encoding(estimator, X) != spec.free_encoding
    ):  # "auto" encodes by the rows: folds on either side of a threshold
        raise _training.NotStackable("the folds' networks encode differently")
    seeds = _fit_data.draw_seeds(
        estimator,
        check_random_state(_fit_data.copied(random_state)),
        split=True,
        build=True,
    )
    loss = estimator._fit_loss()
    X, data, validation, scaling = _fit_data.fit_data(
        estimator,
        X,
        y,
        sample_weight,
        seeds.split,
        continuing=False,
        loss=loss,
        input_bins=spec.input_bins,
        encoding=(spec.monotonic_cst, spec.free_encoding),
    )
    # after the data's checks, as a fit reports it
    target_violation = _reports.target_violation(
        estimator, y, estimator._spec.output_set
    )
    if scaling[3] != spec.encoded_columns:
        # a fold whose features take fewer values keeps fewer bins
        raise _training.NotStackable("the folds' encodings keep different bins")
    model_seed, seed = seeds.network, seeds.epochs
    bins = scaling[2] if len(scaling) > 2 else None
    # an ensemble's calibrators share the rows, so the first edges
    calibrators = _networks.calibrations(estimator.model_)
    first_edge = calibrators[0].start(bins)[1] if calibrators else None
    loss_weight = _fit_data.loss_weight(data)
    n_samples = X.shape[0]
    offset, spread = estimator._score_start(data, loss)
    penalty_scale = _fit_data.penalty_scale(alpha, n_samples, loss_weight)
    member = _training.Member(
        data=data,
        validation=validation,
        seed=seed,
        loss_weight=loss_weight,
        penalty_scale=penalty_scale,
        batch_size=estimator._batch_size_for(n_samples),
        weights=_networks.initial_weights(estimator.model_, model_seed, bins),
        offset=np.asarray(offset, dtype=np.float64),
        scale=np.asarray(spread, dtype=np.float64),
        shuffle=estimator.shuffle,
        first_edge=first_edge,
    )
    plan = _fit_data.FitPlan(
        X=X,
        data=data,
        validation=validation,
        seed=seed,
        penalty_scale=penalty_scale,
        continuing=False,
        incremental=False,
        target_violation=target_violation,
    )
    return plan, member, scaling


def _at_alpha(plan, member, scaling, alpha):
    """A prepared member (:func:`_stack_member`) at another ``alpha``: its
    penalty's strength is the only thing ``alpha`` sets."""
    penalty_scale = _fit_data.penalty_scale(alpha, plan.X.shape[0], member.loss_weight)
    return (
        dataclasses.replace(plan, penalty_scale=penalty_scale),
        dataclasses.replace(member, penalty_scale=penalty_scale),
        scaling,
    )


def _fit_stack(estimator, first, members, random_state, score):
    """New fits of the default network, one per member, trained as one stack
    of networks (:class:`skconstrain._training.StackEngine`; in chunks when
    they would take more than ``_training.STACK_MEMORY``), each as its
    own fit would train (the same seeds, rows and scalings: each drawn
    from ``random_state`` as given, a generator copied).

    The estimator is prepared as a fit on ``first`` (``(X, y,
    sample_weight)`` as given: its checks, warnings and network, the
    stack's template), then holds each member's fit in turn (its weights
    in ``model_``, its ``history_``, ``n_iter_`` and reports, ``alpha``)
    while ``score(k, estimator)`` scores member ``k``.

    Parameters
    ----------
    first : tuple
        ``(X, y, sample_weight)``: rows to prepare the estimator on.
    members : list of tuple
        ``(X, y, sample_weight, alpha)`` per member: validated rows.
    random_state : None, int or RandomState
    score : callable
        ``score(k, estimator)``: a score, or a dict of them.

    Returns
    -------
    results : list of tuple
        Per member: ``(score, fit_time, score_time, stopped)`` (``score``
        as ``score`` returned it), the fit
        time its stack's divided by its members (with its share of the
        preparation), ``stopped`` whether its stopping rule ended it.
    with_xla : bool
        Whether a stack ran under XLA on TensorFlow.
    """
    start = time.perf_counter()
    # each member draws from random_state as given (the preparation
    # draws from the estimator's own, a generator advanced)
    random_state = _fit_data.copied(random_state)
    estimator._prepare_fit(*first, False)
    prepared, folds = [], {}
    for X, y, sample_weight, alpha in members:
        # the alphas of a fold (the same rows: the same objects) differ in
        # their penalty's strength alone: the fold is prepared once
        fold = (id(X), id(y), id(sample_weight))
        if fold not in folds:
            folds[fold] = _stack_member(
                estimator, X, y, sample_weight, alpha, random_state
            )
            prepared.append(folds[fold])
        else:
            prepared.append(_at_alpha(*folds[fold], alpha))
    stacked = [member for _, member, _ in prepared]
    # the largest batch is the trace's (each member's own is an input)
    width = max(member.batch_size for member in stacked)
    n_weights = sum(int(np.prod(w.shape)) for w in stacked[0].weights)
    ensemble = estimator.ensemble_size
    units = _networks.units(estimator.model_)
    out, with_xla = [], False
    prepare_time = time.perf_counter() - start
    for part in _training.chunks(stacked, n_weights, units):
        begin = time.perf_counter()
        size = len(stacked[part])
        key = estimator._engine_key()
        if key is not None:
            key = ("stack", size, width, *key)

        def make(size=size):
            parts = _networks.stack_parts(
                estimator._twin_network(), estimator._fit_loss(), estimator.n_outputs_
            )
            return _training.StackEngine(size=size, width=width, **parts)

        with _training.borrow(key, make) as engine:
            results = _training.train(
                engine,
                stacked[part],
                epochs=estimator.epochs,
                learning_rate=_validation.learning_rate(estimator),
                tol=estimator.tol,
                n_iter_no_change=estimator.n_iter_no_change,
                verbose=estimator.verbose,
                members=ensemble,
            )
            snapshot = engine.snapshot()
            with_xla = with_xla or engine.with_xla
            fit_time = (time.perf_counter() - begin) / size
            fit_time += prepare_time / len(stacked)
            first_k = part.start
            for k, (plan, _, scaling) in enumerate(prepared[part]):
                begin = time.perf_counter()
                model = estimator.model_
                engine.write(k, model, snapshot, _networks.own_weights(model))
                with _training.precision():
                    _networks.set_input_scaling(model, scaling)
                estimator.alpha = float(members[first_k + k][3])
                history, stopped = results[k]
                with warnings.catch_warnings():
                    # a search sums up its members' convergence itself
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    estimator._end_fit(plan, history, stopped)
                value = score(first_k + k, estimator)
                elapsed = time.perf_counter() - begin
                out.append((value, fit_time, elapsed, stopped))
    return out, with_xla


def _fit_and_score_stacked(template, candidates, X, X_valid, y, sample_weight, scorer):
    """Fit every candidate ``(alpha, train, test)`` on its rows as one stack
    of networks (:func:`_fit_stack`), and score
    each on its held-out rows.

    ``template`` (a :class:`ConstrainedRegressor` of the search's
    hyperparameters) is prepared for the first candidate's rows as a fit
    would (its checks and warnings, its network), and each member is scored
    through it. ``X`` are the rows as given (a DataFrame keeps its column
    names for the template and the scorer), ``X_valid`` the same rows
    validated (the members' data). Returns :func:`_fit_stack`'s results
    and whether a stack ran under XLA.
    """

    taken = {}  # each fold's rows, taken once and shared by its alphas

    def rows(X, train):
        key = (id(X), id(train))  # the candidates hold every train array
        if key not in taken:
            weights = None if sample_weight is None else sample_weight[train]
            taken[key] = _safe_indexing(X, train), _safe_indexing(y, train), weights
        return taken[key]

    def score(k, estimator):
        return _score(scorer, estimator, X, y, sample_weight, candidates[k][2])

    return _fit_stack(
        template,
        rows(X, candidates[0][1]),
        [(*rows(X_valid, train), alpha) for alpha, train, _ in candidates],
        template.random_state,
        score,
    )


def _cv_results(alphas, scores, fit_times, score_times):
    """``cv_results_`` in :class:`~sklearn.model_selection.GridSearchCV`'s
    format, from arrays of shape (n_alphas, n_splits); ``scores``: ``{name:
    array}``, whose name ``score`` is the one metric's."""
    results = {
        "mean_fit_time": fit_times.mean(axis=1),
        "std_fit_time": fit_times.std(axis=1),
        "mean_score_time": score_times.mean(axis=1),
        "std_score_time": score_times.std(axis=1),
        "param_alpha": np.ma.MaskedArray(alphas, mask=False, dtype=object),
        "params": [{"alpha": float(a)} for a in alphas],
    }
    for name, values in scores.items():
        for k in range(values.shape[1]):
            results[f"split{k}_test_{name}"] = values[:, k]
        mean = values.mean(axis=1)
        results[f"mean_test_{name}"] = mean
        results[f"std_test_{name}"] = values.std(axis=1)
        # as GridSearchCV: the best is 1, ties share the lowest rank
        safe = np.where(np.isnan(mean), -np.inf, mean)
        results[f"rank_test_{name}"] = rankdata(-safe, method="min").astype(np.int32)
    return results
