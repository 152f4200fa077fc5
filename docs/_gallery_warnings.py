"""The gallery's examples run with every ``UserWarning`` an error.

Ours (targets outside the set, an ignored hyperparameter, a degenerate set)
and scikit-learn's ``ConvergenceWarning`` are ``UserWarning``: an example
must not show one, as ``python -W error::UserWarning example.py`` would
check. sphinx-gallery calls :func:`warnings_are_errors` before and after each
example (``reset_modules`` in ``conf.py``); ``make docs`` is where the
examples run (``tests/test_examples.py`` runs the same check, outside
``make test``).
"""

import warnings

_scopes = []


def warnings_are_errors(gallery_conf, fname, when):
    """Before an example, a scope in which ``UserWarning`` is an error; after
    it, the filters as they were."""
    if fname is None:  # entering a directory of examples
        return
    if when == "before":
        scope = warnings.catch_warnings()
        scope.__enter__()
        _scopes.append(scope)
        warnings.simplefilter("error", UserWarning)
        # matplotlib's notice when an example calls plt.show() under Agg
        warnings.filterwarnings(
            "ignore", message="FigureCanvasAgg is non-interactive", category=UserWarning
        )
    elif _scopes:
        _scopes.pop().__exit__(None, None, None)
