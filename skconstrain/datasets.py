"""Regression problems whose targets lie in a set of the registry: synthetic
(:func:`make_constrained_regression`) and real (:func:`load_age_structure`)."""

from __future__ import annotations

import importlib
import numbers

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from skconstrain._sets import check_radius, check_set
from skconstrain.projections import project

__all__ = [
    "load_age_structure",
    "load_auto_mpg",
    "load_glucose",
    "make_constrained_regression",
    "make_heteroscedastic_regression",
]


def _check_int(value, name, low):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
    ):
        raise ValueError(
            f"The '{name}' parameter must be an int >= {low}; got {value!r}."
        )
    return int(value)


def _check_noise(noise):
    if (
        isinstance(noise, bool)
        or not isinstance(noise, numbers.Real)
        or not 0 <= noise < np.inf
    ):
        raise ValueError(
            f"The 'noise' parameter must be a real number >= 0; got {noise!r}."
        )


def make_constrained_regression(
    n_samples=1000,
    n_features=10,
    n_targets=5,
    set="simplex",
    radius=1.0,
    noise=0.1,
    random_state=None,
    as_frame=False,
    sparsity=None,
):
    """Generate a nonlinear regression problem with targets in a set.

    ``X`` is standard normal. The signal is a random one-hidden-layer network of
    ``X`` (``tanh(X W1) W2``, scaled so that its rows have norms of the order of
    ``radius``), Gaussian noise of standard deviation ``noise * radius`` is added,
    and each row is then projected onto the set, so every target is feasible
    (up to rounding) and noise does not push targets out of it. The simplex and
    L1-ball targets are sparse, as projections onto them are.

    Parameters
    ----------
    n_samples : int, default=1000
    n_features : int, default=10
    n_targets : int, default=5
    set : str, default="simplex"
        A registry name: "simplex", "l1_ball", "l2_ball", "l2_sphere",
        "linf_ball", "box" (the box ``[-radius, radius]``), "nonneg",
        "ordered" (the signal plus a ramp from ``-radius`` to ``radius``
        across the targets, then sorted by isotonic regression).
    radius : float, default=1.0
        Radius of the set (sum of the simplex).
    noise : float, default=0.1
        Standard deviation of the noise, relative to ``radius``, >= 0.
    random_state : int, RandomState or None, default=None
        Seed; the same seed gives the same data.
    as_frame : bool, default=False
        If True, return DataFrames with columns ``x0, x1, ...`` and
        ``y0, y1, ...`` (a Series for one target).
    sparsity : float in [0, 1) or None, default=None
        Share of the targets' entries that are exact zeros (on the boundary of
        the set), for the sets whose projection makes zeros: "simplex",
        "l1_ball" (the signal is scaled) and "nonneg" (shifted) until the share
        is reached, to about 1% (at most ``(n_targets - 1) / n_targets`` for
        the simplex and the L1 ball, whose rows keep a nonzero entry). Problems
        where an exact projection should be the right tool. None: as the
        signal falls.

    Returns
    -------
    X : ndarray or DataFrame of shape (n_samples, n_features)
    y : ndarray or DataFrame of shape (n_samples, n_targets)
        1-D (or a Series) when ``n_targets == 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain.datasets import make_constrained_regression
    >>> X, Y = make_constrained_regression(100, 4, 3, set="simplex", random_state=0)
    >>> X.shape, Y.shape
    ((100, 4), (100, 3))
    >>> bool(np.allclose(Y.sum(axis=1), 1.0) and (Y >= 0).all())
    True
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    n_targets = _check_int(n_targets, "n_targets", 1)
    set = check_set(set)
    radius = check_radius(radius)
    _check_noise(noise)
    rng = check_random_state(random_state)
    hidden = 16
    X = rng.standard_normal((n_samples, n_features))
    W1 = rng.standard_normal((n_features, hidden)) / np.sqrt(n_features)
    W2 = rng.standard_normal((hidden, n_targets)) / np.sqrt(hidden)
    signal = np.tanh(2.0 * X @ W1) @ W2
    signal *= radius / np.sqrt(np.mean(np.sum(signal**2, axis=1)))  # norms ~ radius
    Z = signal + noise * radius * rng.standard_normal((n_samples, n_targets))
    if set == "simplex":
        Z += radius / n_targets  # centre on the simplex: several positive shares
    if set == "ordered":  # increasing on average: a few ties where rows pool
        Z += radius * np.linspace(-1.0, 1.0, n_targets)
    if set == "box":
        params = {"lower": -radius, "upper": radius}
    elif set in ("nonneg", "ordered"):
        params = {}
    else:
        params = {"radius": radius}
    if sparsity is None:
        Y = project(Z, set, **params)
    else:
        sparsity = _check_sparsity(sparsity, set)
        _check_reachable(sparsity, set, n_targets)
        Y = _with_zeros(Z, set, params, sparsity, radius)
    if as_frame:
        X = pd.DataFrame(X, columns=[f"x{i}" for i in range(n_features)])
        Y = pd.DataFrame(Y, columns=[f"y{j}" for j in range(n_targets)])
        return X, (Y.iloc[:, 0] if n_targets == 1 else Y)
    return X, (Y[:, 0] if n_targets == 1 else Y)


def make_heteroscedastic_regression(
    n_samples=1000,
    n_features=2,
    *,
    noise=1.0,
    quantiles=None,
    random_state=None,
    as_frame=False,
):
    """Generate a regression problem whose noise grows with a feature.

    For quantile regression: ``X`` is uniform on ``[-2, 2]``; ``y = sin(1.5
    x0) + 0.5 x0 + s(x) e`` with standard normal ``e`` and the noise scale
    ``s(x) = noise * (0.1 + 0.5 |x1|)`` (of ``|x0|`` with one feature), so
    the conditional quantiles ``sin(1.5 x0) + 0.5 x0 + s(x) Phi^-1(tau)``
    fan out where ``|x1|`` is large. The other features are noise.

    Parameters
    ----------
    n_samples : int, default=1000
    n_features : int, default=2
    noise : float, default=1.0
        Scale of the noise, >= 0.
    quantiles : None or array-like of float in (0, 1), default=None
        If given, also return the true conditional quantiles at these levels.
    random_state : int, RandomState or None, default=None
    as_frame : bool, default=False
        Return a DataFrame ``x0, x1, ...`` and a Series ``y``.

    Returns
    -------
    X : ndarray or DataFrame of shape (n_samples, n_features)
    y : ndarray or Series of shape (n_samples,)
    Q : ndarray of shape (n_samples, len(quantiles)), if ``quantiles``

    Examples
    --------
    >>> from skconstrain.datasets import make_heteroscedastic_regression
    >>> X, y, Q = make_heteroscedastic_regression(
    ...     500, quantiles=[0.1, 0.9], random_state=0)
    >>> X.shape, y.shape, Q.shape
    ((500, 2), (500,), (500, 2))
    >>> bool(abs((y < Q[:, 0]).mean() - 0.1) < 0.05)
    True
    """
    from scipy.stats import norm

    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    _check_noise(noise)
    rng = check_random_state(random_state)
    X = rng.uniform(-2.0, 2.0, size=(n_samples, n_features))
    mean = np.sin(1.5 * X[:, 0]) + 0.5 * X[:, 0]
    scale = noise * (0.1 + 0.5 * np.abs(X[:, 1 if n_features > 1 else 0]))
    y = mean + scale * rng.standard_normal(n_samples)
    if as_frame:
        out = [
            pd.DataFrame(X, columns=[f"x{i}" for i in range(n_features)]),
            pd.Series(y, name="y"),
        ]
    else:
        out = [X, y]
    if quantiles is not None:
        levels = np.atleast_1d(np.asarray(quantiles, dtype=float))
        if levels.ndim != 1 or not np.all((levels > 0) & (levels < 1)):
            raise ValueError(
                "The 'quantiles' parameter must be levels in (0, 1); got "
                f"{quantiles!r}."
            )
        out.append(mean[:, None] + scale[:, None] * norm.ppf(levels)[None, :])
    return tuple(out)


def _check_sparsity(sparsity, set):
    if set not in ("simplex", "l1_ball", "nonneg"):
        raise ValueError(
            "The 'sparsity' parameter applies to the sets whose projection makes "
            f"exact zeros ('simplex', 'l1_ball', 'nonneg'); got set={set!r}."
        )
    if (
        isinstance(sparsity, bool)
        or not isinstance(sparsity, numbers.Real)
        or not 0 <= sparsity < 1
    ):
        raise ValueError(
            f"The 'sparsity' parameter must be None or in [0, 1); got {sparsity!r}."
        )
    return float(sparsity)


def _check_reachable(sparsity, set, n_targets):
    # a point of the simplex, or a projection onto the L1 ball, keeps one
    # nonzero entry per row (zero rows aside)
    most = (n_targets - 1) / n_targets
    if set != "nonneg" and sparsity > most:
        raise ValueError(
            f"The 'sparsity' parameter must be <= (n_targets - 1) / n_targets = "
            f"{most:.3g} for set={set!r}: every row keeps a nonzero entry; got "
            f"{sparsity!r}."
        )


def _with_zeros(Z, set, params, sparsity, radius):
    """Targets ``P(Z')`` with about ``sparsity`` of their entries exactly 0."""
    if set == "nonneg":
        return project(Z - np.quantile(Z, sparsity), set)
    centre = radius / Z.shape[1] if set == "simplex" else 0.0

    def zeros(log_scale):
        Y = project((Z - centre) * np.exp(log_scale) + centre, set, **params)
        return Y, float(np.mean(Y == 0))

    # The share of zeros grows with the scale: bisect for the scale where it
    # crosses ``sparsity`` and keep the closer side (for 0, the largest scale
    # without zeros, not a vanishing signal).
    lo, hi = -12.0, 12.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if zeros(mid)[1] <= sparsity:
            lo = mid
        else:
            hi = mid
    (below, share_lo), (above, share_hi) = zeros(lo), zeros(hi)
    return below if sparsity - share_lo <= share_hi - sparsity else above


# ------------------------------------------------------------------ real data
#: Gapminder's country names that the UN's World Population Prospects spell
#: otherwise (the others are spelled alike).
_GAPMINDER_TO_UN = {
    "Bolivia": "Bolivia (Plurinational State of)",
    "Brunei": "Brunei Darussalam",
    "Cape Verde": "Cabo Verde",
    "Central African Rep.": "Central African Republic",
    "Congo, Dem. Rep.": "Democratic Republic of the Congo",
    "Congo, Rep.": "Congo",
    "Cote d'Ivoire": "Côte d'Ivoire",
    "Czech Rep.": "Czechia",
    "Dominican Rep.": "Dominican Republic",
    "Faeroe Islands": "Faroe Islands",
    "Hong Kong, China": "China, Hong Kong SAR",
    "Iran": "Iran (Islamic Republic of)",
    "Korea, Dem. Rep.": "Dem. People's Republic of Korea",
    "Korea, Rep.": "Republic of Korea",
    "Laos": "Lao People's Democratic Republic",
    "Macao, China": "China, Macao SAR",
    "Macedonia, FYR": "North Macedonia",
    "Micronesia, Fed. Sts.": "Micronesia (Fed. States of)",
    "Moldova": "Republic of Moldova",
    "Reunion": "Réunion",
    "Russia": "Russian Federation",
    "Slovak Republic": "Slovakia",
    "Swaziland": "Eswatini",
    "Syria": "Syrian Arab Republic",
    "Taiwan": "China, Taiwan Province of China",
    "Tanzania": "United Republic of Tanzania",
    "Turkey": "Türkiye",
    "United States": "United States of America",
    "Venezuela": "Venezuela (Bolivarian Republic of)",
    "Vietnam": "Viet Nam",
    "Yemen, Rep.": "Yemen",
}

AGE_STARTS = tuple(range(0, 101, 5))
"""First age of each of the 21 five-year groups of the UN table (100+ last)."""


def _age_labels(starts):
    ends = [*starts[1:], None]
    return [
        f"{a}+" if b is None else f"{a}-{b - 1}"
        for a, b in zip(starts, ends, strict=True)
    ]


def load_age_structure(
    *, target="shares", age_groups=None, as_frame=False, return_X_y=False
):
    """Age structure of countries' populations, from fertility and life expectancy.

    One row per country and year: the features are the total fertility
    (children per woman), the life expectancy at birth (years) and the year;
    the targets are the shares of the population in each age group (each row
    sums to 1: a point of the simplex). Years 1965-2010 every five years (the
    years of the UN table, five-yearly, that Gapminder's table covers; later
    UN rows are projections), countries of both tables (about 2 000 rows).

    ``target="change"`` gives a problem in the L1 ball instead: the change of
    the shares over the next five years (each row sums to 0, so its L1 norm is
    at most 2: a point of the L1 ball of radius 2), predicted from the same
    features and the current shares; the years 1965-2005, the countries with
    both years (about 1 800 rows). Populations age by cohorts, so the current
    shares and fertility predict much of the change (a degree-2 polynomial
    ridge regression explains about 70% of its variance on countries it did
    not see), not all: migration and mortality shocks remain.

    Parameters
    ----------
    target : {"shares", "change"}, default="shares"
        "shares": the shares of the age groups (the simplex). "change": their
        change over the next five years (the L1 ball of radius 2); the
        features then include the current shares.
    age_groups : None or sequence of int, default=None
        None: the 21 five-year groups (0-4, ..., 95-99, 100+). Otherwise the
        first ages of coarser groups, increasing, starting at 0, each a multiple
        of 5; e.g. ``[0, 15, 65]`` gives the shares aged 0-14, 15-64 and 65+.
    as_frame : bool, default=False
        Return pandas DataFrames (features and targets with named columns).
    return_X_y : bool, default=False
        Return ``(X, Y)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (n, 3), or (n, 3 + k) for "change", ``target`` (n, k),
        ``feature_names``,
        ``target_names``, ``frame`` (one DataFrame with the country, the
        features and the targets, when ``as_frame``), ``DESCR``.
    (X, Y) : tuple, if ``return_X_y``

    Notes
    -----
    The data ship with the ``bokeh_sampledata`` package (install the extra:
    ``pip install skconstrain[data]``); nothing is downloaded.

    - Population by age: United Nations, Department of Economic and Social
      Affairs, Population Division (2024). World Population Prospects 2024,
      Online Edition. Licence CC BY 3.0 IGO. Male and female counts are summed
      and divided by the total; these changes do not imply UN endorsement.
    - Fertility and life expectancy: Gapminder (gapminder.org), licence CC BY
      2.0; country names are matched to the UN's.

    Examples
    --------
    >>> from skconstrain.datasets import load_age_structure
    >>> X, Y = load_age_structure(age_groups=[0, 15, 65], return_X_y=True)
    >>> X.shape[1], Y.shape[1], bool(abs(Y.sum(axis=1) - 1).max() < 1e-12)
    (3, 3, True)
    >>> X, D = load_age_structure(target="change", age_groups=[0, 15, 65],
    ...                           return_X_y=True)
    >>> X.shape[1], bool(abs(D.sum(axis=1)).max() < 1e-12)
    (6, True)
    """
    from sklearn.utils import Bunch

    if target not in ("shares", "change"):
        raise ValueError(
            f"The 'target' parameter must be 'shares' or 'change'; got {target!r}."
        )
    starts = _check_age_groups(age_groups)
    population = _sampledata("load_age_structure", "population").data
    gapminder = _sampledata("load_age_structure", "gapminder").data
    pop = population[population["Year"] <= 2020]
    counts = pop.pivot_table(
        index=["Location", "Year"],
        columns="AgeGrpStart",
        values="Value",
        aggfunc="sum",
    ).reindex(columns=list(AGE_STARTS))
    bins = np.searchsorted(starts, np.asarray(AGE_STARTS), side="right") - 1
    grouped = counts.T.groupby(bins).sum().T
    shares = grouped.div(grouped.sum(axis=1), axis=0)
    target_names = [f"share_{label}" for label in _age_labels(list(starts))]
    shares.columns = target_names
    gap = gapminder.assign(
        Location=gapminder["country"].replace(_GAPMINDER_TO_UN), Year=gapminder["year"]
    )
    gap = gap.dropna(subset=["fertility", "life_expectancy"])
    frame = gap.merge(shares.reset_index(), on=["Location", "Year"], how="inner")
    frame = frame.dropna(subset=target_names)
    frame = frame.sort_values(["Location", "Year"]).reset_index(drop=True)
    feature_names = ["fertility", "life_expectancy", "year"]
    frame = frame.drop(columns="country").rename(columns={"Location": "country"})[
        ["country", *feature_names, *target_names]
    ]
    if target == "change":
        frame, feature_names, target_names = _five_year_change(
            frame, feature_names, target_names
        )
    X = frame[feature_names].astype(float)
    Y = frame[target_names].astype(float)
    if not as_frame:
        X, Y = X.to_numpy(), Y.to_numpy()
    if return_X_y:
        return X, Y
    return Bunch(
        data=X,
        target=Y,
        feature_names=feature_names,
        target_names=target_names,
        frame=frame if as_frame else None,
        DESCR=load_age_structure.__doc__,
    )


def _five_year_change(frame, feature_names, share_names):
    """Rows of ``frame`` whose country also has a row five years later, with
    the shares as features and their change as targets."""
    later = frame[["country", "year", *share_names]].assign(year=frame["year"] - 5)
    joined = frame.merge(later, on=["country", "year"], suffixes=("", "_later"))
    change_names = [name.replace("share_", "change_", 1) for name in share_names]
    for name, change in zip(share_names, change_names, strict=True):
        joined[change] = joined[f"{name}_later"] - joined[name]
    features = [*feature_names, *share_names]
    joined = joined.sort_values(["country", "year"]).reset_index(drop=True)
    return joined[["country", *features, *change_names]], features, change_names


def _check_age_groups(age_groups):
    if age_groups is None:
        return np.asarray(AGE_STARTS)
    starts = np.asarray(age_groups)
    if (
        starts.ndim != 1
        or starts.size == 0
        or starts.dtype.kind not in "iu"
        or starts[0] != 0
        or np.any(np.diff(starts) <= 0)
        or np.any(starts % 5)
        or starts[-1] > 100
    ):
        raise ValueError(
            "The 'age_groups' parameter must be None or increasing first ages of "
            "the groups, starting at 0, multiples of 5 up to 100; got "
            f"{age_groups!r}."
        )
    return starts


#: The features of :func:`load_auto_mpg`, and the sign of the effect that
#: physics and the literature agree on (fuel economy falls with mass and power).
AUTO_MPG_FEATURES = (
    "cylinders",
    "displacement",
    "horsepower",
    "weight",
    "acceleration",
    "model_year",
    "origin",
)
AUTO_MPG_MONOTONIC = {"displacement": -1, "horsepower": -1, "weight": -1}


def load_auto_mpg(*, as_frame=False, return_X_y=False):
    """Fuel economy of 392 cars (1970-1982) from their engine and mass: Auto MPG.

    The classic regression data set for monotone models: miles per gallon
    should not increase with the weight, the displacement or the
    horsepower, the others fixed (``AUTO_MPG_MONOTONIC``, the constraints of
    the monotone-network literature). Features, in this order: ``cylinders``,
    ``displacement`` (cubic inches), ``horsepower``, ``weight`` (pounds),
    ``acceleration`` (seconds from 0 to 60 mph), ``model_year`` (70-82) and
    ``origin`` (1 USA, 2 Europe, 3 Japan, as a number, as the literature uses
    it); target ``mpg``. The 392 rows with a known horsepower (the UCI
    table has 398; six lack it).

    Parameters
    ----------
    as_frame : bool, default=False
        Return pandas objects (a DataFrame of features, a Series ``mpg``).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (392, 7), ``target`` (392,), ``feature_names``,
        ``target_names`` (``["mpg"]``), ``monotonic_cst`` (a dict for
        ``monotonic_cst``), ``frame`` (features, target and the car's name,
        when ``as_frame``), ``DESCR``.
    (X, y) : tuple, if ``return_X_y``

    Notes
    -----
    The data ship with the ``bokeh_sampledata`` package (install the extra:
    ``pip install skconstrain[data]``); nothing is downloaded. Source: the
    UCI Machine Learning Repository, "Auto MPG" (R. Quinlan, 1993, from the
    StatLib library of Carnegie Mellon University), licence CC BY 4.0.

    Examples
    --------
    >>> from skconstrain.datasets import load_auto_mpg
    >>> data = load_auto_mpg()
    >>> data.data.shape, data.monotonic_cst["weight"]
    ((392, 7), -1)
    """
    from sklearn.utils import Bunch

    autompg = _sampledata("load_auto_mpg", "autompg").autompg
    names = dict(
        zip(
            ["cyl", "displ", "hp", "weight", "accel", "yr", "origin"],
            AUTO_MPG_FEATURES,
            strict=True,
        )
    )
    frame = autompg.rename(columns=names)
    frame = frame[[*AUTO_MPG_FEATURES, "mpg", "name"]].reset_index(drop=True)
    X = frame[list(AUTO_MPG_FEATURES)].astype(float)
    y = frame["mpg"].astype(float)
    if not as_frame:
        X, y = X.to_numpy(), y.to_numpy()
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        feature_names=list(AUTO_MPG_FEATURES),
        target_names=["mpg"],
        monotonic_cst=dict(AUTO_MPG_MONOTONIC),
        frame=frame if as_frame else None,
        DESCR=load_auto_mpg.__doc__,
    )


def load_glucose(*, horizon=30, as_frame=False, return_X_y=False):
    """Blood glucose ``horizon`` minutes ahead, from a continuous monitor.

    Some 52 000 readings of one person's continuous glucose monitor, every 5
    minutes from March to October 2010 (mg/dL). Each row is a reading with a
    full history: the features are the glucose now, its change over the
    last 15 and 30 minutes, and the time of day (as ``sin`` and ``cos`` of
    the hour angle); the target is the glucose ``horizon`` minutes later.
    The spread of the future glucose depends strongly on the present (it
    moves fast when high, and after meals), which makes it a problem for
    prediction intervals and quantile regression rather than a point
    forecast. Rows are in time order (split them by time for honest tests).

    Parameters
    ----------
    horizon : int, default=30
        Minutes ahead, a positive multiple of 5.
    as_frame : bool, default=False
        Return pandas objects (with the readings' times as the index).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (n, 5), ``target`` (n,), ``feature_names``, ``target_names``,
        ``times`` (the time of each row's reading), ``frame`` (when
        ``as_frame``), ``DESCR``.
    (X, y) : tuple, if ``return_X_y``

    Notes
    -----
    The data ship with the ``bokeh_sampledata`` package (install the extra:
    ``pip install skconstrain[data]``); nothing is downloaded. Public domain
    (given to a Bokeh maintainer by an acquaintance).

    Examples
    --------
    >>> from skconstrain.datasets import load_glucose
    >>> X, y = load_glucose(horizon=30, return_X_y=True)
    >>> X.shape[1], len(X) > 40_000
    (5, True)
    """
    from sklearn.utils import Bunch

    if (
        isinstance(horizon, bool)
        or not isinstance(horizon, numbers.Integral)
        or horizon <= 0
        or horizon % 5
    ):
        raise ValueError(
            "The 'horizon' parameter must be a positive multiple of 5 (minutes); "
            f"got {horizon!r}."
        )
    readings = _sampledata("load_glucose", "glucose").data
    glucose = readings["glucose"].astype(float)
    glucose = glucose[~glucose.index.duplicated()].sort_index()

    def at(minutes):  # the reading exactly that many minutes away, or NaN
        shifted = glucose.copy()
        shifted.index = shifted.index - pd.Timedelta(minutes=minutes)
        return shifted.reindex(glucose.index)

    hour = (glucose.index.hour + glucose.index.minute / 60.0).to_numpy()
    angle = 2 * np.pi * hour / 24.0
    frame = pd.DataFrame(
        {
            "glucose": glucose,
            "change_15min": glucose - at(-15),
            "change_30min": glucose - at(-30),
            "hour_sin": np.sin(angle),
            "hour_cos": np.cos(angle),
            f"glucose_in_{horizon}min": at(horizon),
        },
        index=glucose.index,
    ).dropna()
    if frame.empty:
        span = glucose.index[-1] - glucose.index[0]
        raise ValueError(
            f"The 'horizon' parameter ({horizon} minutes) leaves no reading with "
            f"one that many minutes later: the readings span {span}."
        )
    feature_names = ["glucose", "change_15min", "change_30min", "hour_sin", "hour_cos"]
    target_name = f"glucose_in_{horizon}min"
    X, y = frame[feature_names], frame[target_name]
    if not as_frame:
        X, y = X.to_numpy(), y.to_numpy()
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        feature_names=feature_names,
        target_names=[target_name],
        times=frame.index.to_numpy(),
        frame=frame if as_frame else None,
        DESCR=load_glucose.__doc__,
    )


def _sampledata(loader, name):
    """The module ``bokeh_sampledata.<name>``, or an ImportError naming the
    extra that ships it."""
    try:
        importlib.import_module("bokeh_sampledata")
        return importlib.import_module(f"bokeh_sampledata.{name}")
    except ImportError:
        raise ImportError(
            f"{loader} needs the data of the 'bokeh_sampledata' package; "
            "install the extra: pip install 'skconstrain[data]'."
        ) from None
