"""environment.yml (conda) and pyproject.toml (pip) declare the same dependencies with the same lower bounds."""

import re
import tomllib
from pathlib import Path

import rattler
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = data["project"]["dependencies"] + [r for extra in data["project"]["optional-dependencies"].values() for r in extra]
    out = {}
    for r in reqs:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[A-Za-z0-9_,\-]+\])?\s*(.*)", r)  # name, [extras], bound
        out[m.group(1).lower()] = m.group(3).replace(" ", "")
    return out


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the pip section installs the project itself
            continue
        spec = rattler.MatchSpec(dep)  # raises on a malformed conda spec
        name = re.split(r"[\s<>=!]", dep.strip())[0]
        if name in NOT_PACKAGES:
            continue
        out[CONDA_TO_PYPI.get(name, name)] = str(spec.version or "").replace(" ", "")
    return out


def test_environment_yml_and_pyproject_list_the_same_packages_with_the_same_bounds():
    pip, conda = _pyproject(), _conda()
    assert set(pip) == set(conda), f"only in pyproject: {set(pip) - set(conda)}; only in environment.yml: {set(conda) - set(pip)}"
    for name in pip:
        assert pip[name] == conda[name], f"{name}: pyproject says {pip[name]!r}, environment.yml says {conda[name]!r}"


def test_every_dependency_has_a_lower_bound():
    for name, bound in _pyproject().items():
        assert bound.startswith(">="), f"{name} has no lower bound"


def test_the_installed_versions_satisfy_the_declared_bounds():
    from importlib.metadata import PackageNotFoundError, version

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    for name, bound in _pyproject().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # an optional extra that this environment does not have
        assert Version(installed.split("+")[0]) in SpecifierSet(bound), f"{name} {installed} is outside {bound}"
