"""The documentation site: every public object has an API page, every
example is a gallery page, and the site's sources are where make docs looks."""

import importlib
import re
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = (ROOT / "docs" / "api.rst").read_text()
PUBLIC_MODULES = [
    "skconstrain",
    "skconstrain.projections",
    "skconstrain.datasets",
    "skconstrain.metrics",
    "skconstrain.keras",
    "skconstrain.keras.constraints",
    "skconstrain.keras.regularizers",
    "skconstrain.keras.layers",
    "skconstrain.keras.ops",
    "skconstrain.keras.losses",
    "skconstrain.keras.penalties",
]
# data, described in the text of the API page rather than given a page
DESCRIBED = {
    "__version__",
    "SET_NAMES",
    "KINDS",
    # the ready-made scorers of skconstrain.metrics
    "neg_multi_pinball_scorer",
    "multi_d2_pinball_scorer",
    "coverage_scorer",
    "neg_interval_width_scorer",
}


def documented():
    """The objects the API page's autosummary tables give a page to."""
    found = {}
    module = None
    for line in API.splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = m.group(1)
        elif m := re.match(r"   ([A-Za-z_][\w.]*)$", line):
            path = f"{module}.{m.group(1)}"
            owner, name = path.rsplit(".", 1)
            found[path] = getattr(importlib.import_module(owner), name)
    return found


def public_objects():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) or name in DESCRIBED:
                continue
            yield f"{module_name}.{name}", obj


@pytest.mark.parametrize(
    "path, obj", list(public_objects()), ids=lambda x: x if isinstance(x, str) else ""
)
def test_every_public_object_has_an_api_page(path, obj):
    pages = documented()
    assert any(target is obj for target in pages.values()), (
        f"{path} has no page: add it to an autosummary table of docs/api.rst"
    )


def test_the_api_page_lists_only_what_exists():
    assert len(documented()) >= 60


def test_every_example_is_a_gallery_page_with_a_title_and_a_figure():
    examples = sorted((ROOT / "examples").glob("*.py"))
    assert (ROOT / "examples" / "README.txt").exists()
    for path in examples:
        text = path.read_text()
        doc = text.split('"""')[1]
        title, underline = doc.splitlines()[:2]
        assert set(underline) == {"="} and len(underline) == len(title), path.name
        assert "matplotlib" in text, f"{path.name} makes no figure"


def test_every_set_is_listed_where_the_sets_are_listed():
    # "ordered" was missing from these lists in 0.3's trial
    from skconstrain import SET_NAMES, ConstrainedRegressor, NormProjector
    from skconstrain.keras.layers import OutputActivation, OutputProjection
    from skconstrain.keras.losses import ProjectionLoss
    from skconstrain.keras.penalties import OutputPenalty

    for obj in (
        ConstrainedRegressor,
        NormProjector,
        OutputProjection,
        OutputActivation,
        ProjectionLoss,
        OutputPenalty,
    ):
        missing = [name for name in SET_NAMES if f'"{name}"' not in obj.__doc__]
        assert not missing, f"{obj.__name__}'s docstring omits {missing}"


def test_the_version_is_the_changelogs_latest_release():
    import skconstrain

    changelog = (ROOT / "CHANGELOG.md").read_text()
    latest = re.search(r"^## (\S+) \((.*?)\)", changelog, flags=re.M)
    assert latest.group(1) == skconstrain.__version__
    assert latest.group(2) != "unreleased"


def test_docstrings_that_list_the_sets_name_each_one_from_the_registry():
    from skconstrain import SET_NAMES, ConstrainedRegressor
    from skconstrain.keras import ops

    for obj in (ConstrainedRegressor, ops.project):
        assert "{SET_NAMES}" not in obj.__doc__
        listed = ", ".join(f'"{name}"' for name in SET_NAMES)
        assert listed in obj.__doc__


def test_every_api_page_has_a_title_of_its_own():
    """The API pages' titles (what the sidebar lists) differ: the registries'
    getters are titled constraints.get, regularizers.get and penalties.get,
    not "get" three times, and the Keras ops ops.project, not project as
    NumPy's. Rendered by the autosummary templates themselves."""
    jinja2 = pytest.importorskip("jinja2")
    templates = ROOT / "docs" / "_templates" / "autosummary"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates))
    env.filters["escape"] = lambda text: text
    env.filters["underline"] = lambda text, line="=": f"{text}\n{line * len(text)}"
    titles = {}
    for path, obj in documented().items():
        owner, name = path.rsplit(".", 1)
        kind = "class" if isinstance(obj, type) else "function"
        if not (templates / f"{kind}.rst").exists():
            continue
        rendered = env.get_template(f"{kind}.rst").render(
            module=obj.__module__ if kind == "function" else owner,
            objname=name,
            fullname=path,
        )
        titles.setdefault(rendered.strip().splitlines()[0], []).append(path)
    shared = {title: paths for title, paths in titles.items() if len(paths) > 1}
    assert not shared, shared
