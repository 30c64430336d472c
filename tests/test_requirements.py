"""What runs and what tests are two lists (issue 12): the image carries what runs.

requirements.txt is what the Airflow image installs (Dockerfile, stage `airflow`);
requirements-dev.txt adds what only tests/, sandbox/, bench/ and devtools/ need, installed by
scripts/bootstrap.sh and the Dockerfile's `sandbox` stage. Every line of both is an exact pin,
no package is in both, and nothing under plugins/ or dags/ imports (at module level or inside a
function) a package that only requirements-dev.txt lists, or one requirements.txt does not
install at all. Each checker returns a list of problems; synthetic inputs prove it can fail.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "requirements.txt"
DEV = ROOT / "requirements-dev.txt"
# What the Airflow image runs: Airflow puts plugins/ on sys.path and parses dags/.
SHIPPED = ("plugins", "dags")

PIN = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?:\[(?P<extras>[A-Za-z0-9._-]+(?:\s*,\s*[A-Za-z0-9._-]+)*)\])?"
    r"==(?P<version>[A-Za-z0-9.!+_-]+)"
)
# The one non-pin line requirements-dev.txt may have (bootstrap.sh also installs both itself).
INCLUDE_RUNTIME = "-r requirements.txt"


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them: PyYAML, pyyaml and py_yaml are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- requirement files


def parse_requirements(
    text: str, filename: str, *, may_include_runtime: bool = False
) -> tuple[dict[str, tuple[int, frozenset[str]]], list[str]]:
    """(normalized name -> (line, extras), problems). Every line that is not blank, a comment or
    (for requirements-dev.txt) `-r requirements.txt` must be `name[extras]==version`."""
    pins: dict[str, tuple[int, frozenset[str]]] = {}
    problems = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if may_include_runtime and line == INCLUDE_RUNTIME:
            continue
        match = PIN.fullmatch(line)
        if not match:
            problems.append(
                f"{filename}:{number}: {raw.strip()!r} is not pinned exactly (name==version)"
            )
            continue
        name = normalize(match["name"])
        extras = frozenset(
            normalize(e) for e in (match["extras"] or "").split(",") if e.strip()
        )
        if name in pins:
            problems.append(
                f"{filename}:{number}: {match['name']} is already pinned on line {pins[name][0]}"
            )
        pins[name] = (number, extras)
    return pins, problems


def load_requirements():
    runtime, runtime_problems = parse_requirements(RUNTIME.read_text(), RUNTIME.name)
    dev, dev_problems = parse_requirements(
        DEV.read_text(), DEV.name, may_include_runtime=True
    )
    return runtime, dev, runtime_problems + dev_problems


def check_disjoint(runtime: Iterable[str], dev: Mapping[str, tuple]) -> list[str]:
    return [
        f"{DEV.name}:{dev[name][0]}: {name} is also in {RUNTIME.name}; a package is in one list"
        for name in sorted(set(runtime) & set(dev))
    ]


# --------------------------------------------------------------------------- imports


def imports(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import anywhere in the source: module level,
    inside functions and classes, and importlib.import_module("literal") / __import__("literal").
    Relative imports are the project's own and are skipped."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        elif (
            isinstance(node, ast.Call)
            and (
                getattr(node.func, "attr", None) == "import_module"
                or getattr(node.func, "id", None) in {"import_module", "__import__"}
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            found.append((node.lineno, node.args[0].value.split(".")[0]))
    return sorted(found)


def shipped_sources() -> dict[str, str]:
    """Relative path -> source of every .py file under plugins/ and dags/."""
    return {
        path.relative_to(ROOT).as_posix(): path.read_text()
        for top in SHIPPED
        for path in sorted((ROOT / top).rglob("*.py"))
    }


def local_modules() -> set[str]:
    """Top-level names plugins/ and dags/ themselves provide (estate_ops, a DAG file, ...)."""
    return {
        path.stem if path.is_file() else path.name
        for top in SHIPPED
        for path in (ROOT / top).iterdir()
        if (path.is_file() and path.suffix == ".py") or (path / "__init__.py").is_file()
    }


def third_party_imports(
    sources: Mapping[str, str],
) -> Iterable[tuple[str, int, str]]:
    local = local_modules()
    for path, source in sources.items():
        for line, module in imports(source, path):
            if module not in sys.stdlib_module_names and module not in local:
                yield path, line, module


def distributions_of(module: str, mapping: Mapping[str, list[str]]) -> list[str]:
    """The distributions that install a top-level module; its own name if none installed does
    (so `import moto` is still recognised where moto is not installed)."""
    return [normalize(d) for d in mapping.get(module) or [module]]


def check_dev_only_imports(
    sources: Mapping[str, str],
    runtime: Iterable[str],
    dev: Iterable[str],
    mapping: Mapping[str, list[str]],
) -> list[str]:
    """file:line for every import under plugins/ or dags/ of a package only requirements-dev.txt lists."""
    dev_only = set(dev) - set(runtime)
    problems = []
    for path, line, module in third_party_imports(sources):
        for dist in distributions_of(module, mapping):
            if dist in dev_only:
                problems.append(
                    f"{path}:{line}: imports {module} (package {dist}), which only "
                    f"{DEV.name} lists: the Airflow image does not install it. Move it to "
                    f"{RUNTIME.name} or the import out of {path.split('/')[0]}/"
                )
    return problems


def runtime_closure(pins: Mapping[str, tuple[int, frozenset[str]]]) -> set[str]:
    """Every distribution installing requirements.txt installs: the pins and, from the installed
    metadata, their requirements (with the requested extras), transitively."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(name, extras) for name, (_line, extras) in pins.items()]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        environments = [{"extra": extra} for extra in sorted(extras)] or [{"extra": ""}]
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or any(
                requirement.marker.evaluate(env) for env in environments
            ):
                todo.append(
                    (
                        normalize(requirement.name),
                        frozenset(normalize(e) for e in requirement.extras),
                    )
                )
    return {name for name, _extras in seen}


def check_runtime_provides_imports(
    sources: Mapping[str, str],
    closure: set[str],
    mapping: Mapping[str, list[str]],
) -> list[str]:
    """file:line for every import under plugins/ or dags/ that installing requirements.txt does
    not provide (neither a pin nor a dependency of one), e.g. flask, which only moto[server] brings."""
    problems = []
    for path, line, module in third_party_imports(sources):
        dists = distributions_of(module, mapping)
        if not closure & set(dists):
            problems.append(
                f"{path}:{line}: imports {module} (package {', '.join(dists)}), which "
                f"installing {RUNTIME.name} does not provide: pin it there"
            )
    return problems


# --------------------------------------------------------------------------- the real files


@pytest.fixture(scope="module")
def requirements():
    return load_requirements()


@pytest.fixture(scope="module")
def mapping():
    return importlib.metadata.packages_distributions()


@pytest.fixture(scope="module")
def closure(requirements):
    return runtime_closure(requirements[0])


@pytest.fixture(scope="module")
def sources():
    return shipped_sources()


def test_every_requirement_is_pinned_exactly(requirements):
    runtime, dev, problems = requirements
    assert problems == []
    assert runtime and dev


def test_no_package_is_in_both_lists(requirements):
    runtime, dev, _ = requirements
    assert check_disjoint(runtime, dev) == []


def test_requirement_lists_name_what_the_issue_split(requirements):
    runtime, dev, _ = requirements
    # The deployed topology (docker-compose.yaml: CeleryExecutor, Redis, PostgreSQL) runs these.
    assert {
        "apache-airflow",
        "apache-airflow-providers-celery",
        "celery",
        "redis",
        "asyncpg",
    } <= set(runtime)
    for name in ("moto", "pytest", "pytest-xdist", "hypothesis", "playwright", "ruff"):
        assert name in dev, name
    # The sandbox service runs moto in server mode.
    assert "server" in dev["moto"][1]


def test_dev_requirements_include_the_runtime_first():
    lines = [
        line.strip()
        for line in DEV.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert lines[0] == INCLUDE_RUNTIME


def test_shipped_code_imports_no_dev_only_package(requirements, mapping, sources):
    runtime, dev, _ = requirements
    assert check_dev_only_imports(sources, runtime, dev, mapping) == []


def test_shipped_code_imports_only_what_requirements_txt_installs(
    closure, mapping, sources
):
    assert check_runtime_provides_imports(sources, closure, mapping) == []


def test_the_walk_sees_lazy_imports_and_maps_them_to_packages(mapping, sources):
    # Not vacuous: the files are found, and an import inside a function (the restore drill's
    # psycopg2, in RdsBackupsHook) is seen and mapped to its distribution.
    assert any(path.startswith("dags/") for path in sources)
    assert "plugins/estate_ops/hooks/rds.py" in sources
    found = {(p, m) for p, _line, m in third_party_imports(sources)}
    assert ("plugins/estate_ops/hooks/rds.py", "psycopg2") in found
    assert "psycopg2-binary" in distributions_of("psycopg2", mapping)
    assert "pyyaml" in distributions_of("yaml", mapping)


# --------------------------------------------------------------------------- the checkers can fail


@pytest.mark.parametrize(
    ("source", "line", "module", "package"),
    [
        ("import moto\n", 1, "moto", "moto"),
        (
            "import datetime\n\n\ndef execute(self):\n    from moto.server import ThreadedMotoServer\n",
            5,
            "moto",
            "moto",
        ),
        ("import json\nimport pytest\n", 2, "pytest", "pytest"),
        ("import xdist.scheduler\n", 1, "xdist", "pytest-xdist"),
        (
            "import importlib\n\nhyp = importlib.import_module('hypothesis.strategies')\n",
            3,
            "hypothesis",
            "hypothesis",
        ),
        (
            "def render():\n    from playwright.sync_api import sync_playwright\n",
            2,
            "playwright",
            "playwright",
        ),
    ],
)
def test_dev_only_import_is_reported_with_file_line_and_package(
    requirements, mapping, source, line, module, package
):
    runtime, dev, _ = requirements
    problems = check_dev_only_imports(
        {"plugins/estate_ops/hooks/synthetic.py": source}, runtime, dev, mapping
    )
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        f"plugins/estate_ops/hooks/synthetic.py:{line}: imports {module} (package {package})"
    ), problems


def test_runtime_and_local_imports_are_not_reported(requirements, mapping, closure):
    runtime, dev, _ = requirements
    source = (
        "from __future__ import annotations\n"
        "import json\n"
        "import pandas\n"
        "from airflow.sdk import BaseHook\n"
        "from estate_ops.config import load_config\n"
        "from . import sibling\n"
        "def f():\n    import psycopg2\n"
    )
    sources = {"dags/synthetic.py": source}
    assert check_dev_only_imports(sources, runtime, dev, mapping) == []
    assert check_runtime_provides_imports(sources, closure, mapping) == []


def test_import_the_runtime_does_not_install_is_reported(mapping, closure):
    # flask arrives only with moto[server] (requirements-dev.txt), listed in neither file.
    assert "flask" not in closure
    problems = check_runtime_provides_imports(
        {"dags/synthetic.py": "def f():\n    import flask\n"}, closure, mapping
    )
    assert problems and problems[0].startswith("dags/synthetic.py:2: imports flask"), (
        problems
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("moto>=5.2\n", "requirements.txt:1: 'moto>=5.2' is not pinned exactly"),
        (
            "boto3==1.44.8\npandas\n",
            "requirements.txt:2: 'pandas' is not pinned exactly",
        ),
        ("requests==2.*\n", "'requests==2.*' is not pinned exactly"),
        ("-e .\n", "'-e .' is not pinned exactly"),
        (f"{INCLUDE_RUNTIME}\n", f"'{INCLUDE_RUNTIME}' is not pinned exactly"),
        ("PyYAML==6.0.4\npyyaml==6.0.3\n", "pyyaml is already pinned on line 1"),
    ],
)
def test_pin_checker_catches(text, expected):
    _pins, problems = parse_requirements(text, "requirements.txt")
    assert any(expected in p for p in problems), problems


def test_pin_checker_accepts_extras_comments_and_the_runtime_include():
    pins, problems = parse_requirements(
        f"# comment\n{INCLUDE_RUNTIME}\n\nmoto[server]==5.2.5  # the sandbox\nPyYAML==6.0.4\n",
        "requirements-dev.txt",
        may_include_runtime=True,
    )
    assert problems == []
    assert pins == {"moto": (4, frozenset({"server"})), "pyyaml": (5, frozenset())}


def test_overlap_checker_catches():
    problems = check_disjoint({"boto3": (3, frozenset())}, {"boto3": (7, frozenset())})
    assert problems == [
        "requirements-dev.txt:7: boto3 is also in requirements.txt; a package is in one list"
    ]
