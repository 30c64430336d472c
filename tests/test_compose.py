"""The deployment files agree with each other (DESIGN.md §7).

docker-compose.yaml must be a valid Compose file, give every Airflow service the same image,
mounts, env_file, settings and connections, and never repeat or contradict config/airflow.env.
The Airflow services build the Dockerfile's `airflow` stage (requirements.txt only); the sandbox
builds its `sandbox` stage (plus requirements-dev.txt) under its own tag. Each checker returns a list of problems, so the real files are checked for ``[]`` and mutated
copies prove that each kind of problem is caught.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "reference" / "compose-spec.schema.json"
COMPOSE = ROOT / "docker-compose.yaml"
AIRFLOW_ENV = ROOT / "config" / "airflow.env"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
POOLS = ROOT / "include" / "pools.json"

BASE_IMAGE = "apache/airflow:3.3.2-python3.11"
# Dockerfile stages (build.target): the Airflow services' image carries requirements.txt only;
# the sandbox's adds requirements-dev.txt (moto[server]).
AIRFLOW_TARGET = "airflow"
SANDBOX_TARGET = "sandbox"
CORE_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
    "airflow-init": None,
}
PROJECT_MOUNTS = {
    f"./{name}": f"/opt/airflow/{name}"
    for name in ("dags", "plugins", "include", "logs", "config")
}
ENV_FILE = "config/airflow.env"
CONNECTIONS = {
    "AIRFLOW_CONN_AWS_DEFAULT",
    "AIRFLOW_CONN_PAGERDUTY_DEFAULT",
    "AIRFLOW_CONN_PAGERDUTY_EVENTS_DEFAULT",
    "AIRFLOW_CONN_SLACK_API_DEFAULT",
    "AIRFLOW_CONN_STATUSPAGE_DEFAULT",
}
# Settings that must hold, identically, in every Airflow service.
REQUIRED_SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": re.compile(r"CeleryExecutor"),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": re.compile(
        r"postgresql\+psycopg2://[^@]+@postgres(:5432)?/\w+"
    ),
    "AIRFLOW__CELERY__BROKER_URL": re.compile(r"redis://[^@]*@?redis(:6379)?/\d+"),
    "AIRFLOW__CELERY__RESULT_BACKEND": re.compile(
        r"db\+postgresql://[^@]+@postgres(:5432)?/\w+"
    ),
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": re.compile(
        r"http://airflow-apiserver:8080/execution/"
    ),
}
POOLS_EXPECTED = {"rds_api": 12, "pagerduty_api": 8, "aws_restore_drill": 2}


# --------------------------------------------------------------------------- loading


def load_compose() -> dict:
    # A JSON round trip un-shares the objects YAML anchors alias, so a mutation of one service
    # (below) cannot leak into x-airflow-common or the other services.
    return json.loads(json.dumps(yaml.safe_load(COMPOSE.read_text())))


def read_env_file(path: Path = AIRFLOW_ENV) -> list[tuple[int, str, str]]:
    """(line number, key, value) for every assignment, in order (duplicates kept)."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not KEY=VALUE: {line!r}"
        entries.append((number, key.strip(), value.strip()))
    return entries


def as_dict(environment) -> dict[str, str]:
    """A Compose environment (mapping or list of KEY=VALUE) as a mapping of strings."""
    if environment is None:
        return {}
    if isinstance(environment, list):
        return dict(item.partition("=")[::2] for item in environment)
    return {k: "" if v is None else str(v) for k, v in environment.items()}


def env_files(service: dict) -> list[str]:
    value = service.get("env_file") or []
    items = [value] if isinstance(value, (str, dict)) else value
    return [item["path"] if isinstance(item, dict) else item for item in items]


def mounts(service: dict) -> dict[str, str]:
    """target -> source, for bind mounts and volumes, short or long syntax."""
    result = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            result[volume["target"]] = volume.get("source", "")
        else:
            source, _, rest = volume.partition(":")
            result[rest.split(":")[0]] = source
    return result


def airflow_services(compose: dict) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if name.startswith("airflow-")
    }


def _deprecated_options() -> dict[tuple[str, str], tuple[str, str]]:
    """Airflow's old (section, key) -> new (section, key) renames, read from its source, not imported."""
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations, "apache-airflow is not installed"
    source = (
        Path(next(iter(spec.submodule_search_locations)))
        / "_shared"
        / "configuration"
        / "parser.py"
    )
    for node in ast.walk(ast.parse(source.read_text())):
        if (
            isinstance(node, ast.AnnAssign)
            and getattr(node.target, "id", None) == "deprecated_options"
        ):
            renames = ast.literal_eval(node.value)
            return {(old[0], old[1]): new for new, old in renames.items()}
    raise AssertionError(f"deprecated_options not found in {source}")


DEPRECATED = _deprecated_options()


def canonical(key: str) -> str:
    """The Airflow option a variable sets: AIRFLOW__WEBSERVER__EXPOSE_CONFIG and
    AIRFLOW__API__EXPOSE_CONFIG_CMD both mean [api] expose_config. Other variables are themselves."""
    match = re.fullmatch(r"AIRFLOW__([A-Z0-9_]+?)__([A-Z0-9_]+?)(_CMD|_SECRET)?", key)
    if not match:
        return key
    section, option = match.group(1).lower(), match.group(2).lower()
    section, option = DEPRECATED.get((section, option), (section, option))
    return f"[{section}] {option}"


# --------------------------------------------------------------------------- checkers


def check_schema(compose: dict) -> list[str]:
    if not SCHEMA.is_file():
        pytest.fail(
            f"Compose schema not found at {SCHEMA}: the tests expect the shared/ folder beside the "
            "checkout (shared/reference/compose-spec.schema.json)."
        )
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(compose)
    ]


def check_topology(compose: dict) -> list[str]:
    problems = []
    services = compose.get("services", {})
    for name, command in CORE_SERVICES.items():
        if name not in services:
            problems.append(f"missing service {name}")
        elif command and services[name].get("command") != command:
            problems.append(
                f"{name}: command is {services[name].get('command')!r}, expected {command!r}"
            )
    for name, image in (("postgres", "postgres:16"), ("redis", "redis:")):
        svc = services.get(name)
        if (
            not svc
            or not str(svc.get("image", "")).startswith(image)
            or "healthcheck" not in svc
        ):
            problems.append(f"{name}: needs image {image}* and a healthcheck")
    api = services.get("airflow-apiserver", {})
    if "8080:8080" not in [str(p) for p in api.get("ports", [])]:
        problems.append("airflow-apiserver: port 8080 is not published")
    init = " ".join(map(str, services.get("airflow-init", {}).get("command") or []))
    for step in (
        "airflow db migrate",
        "airflow pools import /opt/airflow/include/pools.json",
    ):
        if step not in init:
            problems.append(f"airflow-init does not run `{step}`")
    return problems


def check_airflow_services(compose: dict) -> list[str]:
    """Same image, mounts, env_file, settings and connections in every Airflow service."""
    problems = []
    common = as_dict(compose.get("x-airflow-common", {}).get("environment"))
    for key, pattern in REQUIRED_SETTINGS.items():
        if not pattern.fullmatch(common.get(key, "")):
            problems.append(
                f"x-airflow-common: {key}={common.get(key)!r} does not match {pattern.pattern}"
            )
    for key in sorted(CONNECTIONS - common.keys()):
        problems.append(f"x-airflow-common: connection {key} is missing")
    for key, value in common.items():
        if key.startswith("AIRFLOW_CONN_") and value != f"${{{key}:-}}":
            problems.append(
                f"x-airflow-common: {key} must come from the shell as ${{{key}:-}}, not {value!r}"
            )
    for key in ("ESTATE_OPS_PLAN", "ESTATE_OPS_ESTATE"):
        match = re.fullmatch(
            rf"\$\{{{key}:-(/opt/airflow/include/(\S+))\}}", common.get(key, "")
        )
        if not match or not (ROOT / "include" / match.group(2)).is_file():
            problems.append(
                f"x-airflow-common: {key} must default to a mounted include/ file, got {common.get(key)!r}"
            )

    images = set()
    for name, svc in airflow_services(compose).items():
        images.add((svc.get("image"), json.dumps(svc.get("build"), sort_keys=True)))
        if ENV_FILE not in env_files(svc):
            problems.append(f"{name}: env_file {ENV_FILE} is missing")
        have = mounts(svc)
        for source, target in PROJECT_MOUNTS.items():
            if have.get(target) != source:
                problems.append(
                    f"{name}: {source} is not mounted at {target} (has {have.get(target)!r})"
                )
        env = as_dict(svc.get("environment"))
        for key, value in common.items():
            if env.get(key) != value:
                problems.append(
                    f"{name}: {key} is {env.get(key)!r}, the common value is {value!r}"
                )
    if len(images) != 1:
        problems.append(
            f"Airflow services do not share one image and build: {sorted(images, key=str)}"
        )
    return problems


def check_single_source(
    compose: dict, env_entries: list[tuple[int, str, str]]
) -> list[str]:
    """No Airflow option is set twice: within airflow.env, within a service, or across the two."""
    problems = []
    seen: dict[str, tuple[str, str]] = {}
    for number, key, value in env_entries:
        option = canonical(key)
        if option in seen:
            first_key, first_value = seen[option]
            kind = "contradicts" if value != first_value else "duplicates"
            problems.append(
                f"{ENV_FILE}:{number}: {key}={value} {kind} {first_key}={first_value}"
            )
        else:
            seen[option] = (key, value)
    for name, svc in airflow_services(compose).items():
        own: dict[str, str] = {}
        for key, value in as_dict(svc.get("environment")).items():
            option = canonical(key)
            if option in own:
                problems.append(
                    f"{name}: {key} sets {option} again (already set by {own[option]})"
                )
            own[option] = key
            if option in seen:
                first_key, first_value = seen[option]
                kind = "contradicts" if value != first_value else "duplicates"
                problems.append(
                    f"{name}: {key}={value} {kind} {ENV_FILE}'s {first_key}={first_value}"
                )
    return problems


def dockerfile_stages(dockerfile: str) -> list[tuple[str, str, list[str]]]:
    """(name, FROM, instructions) per stage in order; continuation lines joined, comments dropped.
    A stage without `AS name` is named by its index, as Docker does."""
    lines = [
        line.strip()
        for line in dockerfile.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    instructions: list[str] = []
    for line in lines:
        if instructions and instructions[-1].endswith("\\"):
            instructions[-1] = instructions[-1][:-1] + " " + line
        else:
            instructions.append(line)
    stages: list[tuple[str, str, list[str]]] = []
    for line in instructions:
        if line.upper().startswith("FROM "):
            words = line.split()
            name = (
                words[3]
                if len(words) > 3 and words[2].upper() == "AS"
                else str(len(stages))
            )
            stages.append((name, words[1], []))
        elif stages:
            stages[-1][2].append(line)
    return stages


def stage_chain(stages, target: str) -> list[tuple[str, str, list[str]]]:
    """The stage named target and the stages it is built FROM, base first ([] if no such stage)."""
    by_name = {name: (name, base, body) for name, base, body in stages}
    chain = []
    while target in by_name and by_name[target] not in chain:
        chain.insert(0, by_name[target])
        target = by_name[target][1]
    return chain


def _installs(body: list[str], requirements: str) -> bool:
    return any(
        re.match(r"RUN\s.*\bpip install\b", line)
        and re.search(rf"-r\s+\S*\b{re.escape(requirements)}(\s|$)", line)
        and re.search(r"-c\s+\S*constraints\.txt\b", line)
        for line in body
    )


def _mentions(body: list[str], requirements: str) -> bool:
    return any(re.search(rf"\b{re.escape(requirements)}\b", line) for line in body)


def _build(svc: dict) -> dict:
    build = svc.get("build")
    return {"context": build} if isinstance(build, str) else (build or {})


def check_image(compose: dict, dockerfile: str) -> list[str]:
    problems = []
    built = [*airflow_services(compose).items()]
    if "sandbox" in compose.get("services", {}):
        built.append(("sandbox", compose["services"]["sandbox"]))
    for name, svc in built:
        build = _build(svc)
        target = SANDBOX_TARGET if name == "sandbox" else AIRFLOW_TARGET
        if (
            build.get("context") != "."
            or build.get("dockerfile", "Dockerfile") != "Dockerfile"
        ):
            problems.append(f"{name}: not built from ./Dockerfile (build={build!r})")
        elif build.get("target") != target:
            problems.append(
                f"{name}: build.target is {build.get('target')!r}, expected {target!r}"
            )
    sandbox = compose.get("services", {}).get("sandbox")
    airflow_image = compose.get("x-airflow-common", {}).get("image")
    if sandbox and sandbox.get("image") == airflow_image:
        problems.append(
            f"sandbox: image {airflow_image!r} is the Airflow services' tag; its build would "
            "replace the Airflow image with the one carrying the development packages"
        )

    stages = dockerfile_stages(dockerfile)
    froms = [base for _name, base, _body in stages]
    if froms[:1] != [BASE_IMAGE]:
        problems.append(f"Dockerfile FROM is {froms[:1]}, expected [{BASE_IMAGE!r}]")
    for index, (name, base, _body) in enumerate(stages[1:], start=1):
        if base not in [earlier for earlier, _b, _l in stages[:index]]:
            problems.append(
                f"Dockerfile stage {name}: FROM {base}, expected an earlier stage (one base image)"
            )
    if stages and stages[-1][0] != AIRFLOW_TARGET:
        problems.append(
            f"Dockerfile's last stage is {stages[-1][0]!r}: a plain `docker build .` must build "
            f"the Airflow image ({AIRFLOW_TARGET!r})"
        )
    body = [line for _n, _b, lines in stages for line in lines]
    if not any(re.match(r"COPY\s.*\bconstraints\.txt\b", line) for line in body):
        problems.append("Dockerfile does not COPY constraints.txt")

    airflow = [
        line for _n, _b, lines in stage_chain(stages, AIRFLOW_TARGET) for line in lines
    ]
    if not stage_chain(stages, AIRFLOW_TARGET):
        problems.append(f"Dockerfile has no stage {AIRFLOW_TARGET!r}")
    elif not _installs(airflow, "requirements.txt"):
        problems.append(
            f"Dockerfile stage {AIRFLOW_TARGET!r} does not "
            "`pip install -r requirements.txt -c constraints.txt`"
        )
    if _mentions(airflow, "requirements-dev.txt"):
        problems.append(
            f"Dockerfile stage {AIRFLOW_TARGET!r} (or one it is built FROM) uses "
            "requirements-dev.txt: the Airflow image must carry no development packages"
        )
    sandbox_body = [
        line for _n, _b, lines in stage_chain(stages, SANDBOX_TARGET) for line in lines
    ]
    if not stage_chain(stages, SANDBOX_TARGET):
        problems.append(f"Dockerfile has no stage {SANDBOX_TARGET!r}")
    elif not (
        _installs(sandbox_body, "requirements.txt")
        and _installs(sandbox_body, "requirements-dev.txt")
    ):
        problems.append(
            f"Dockerfile stage {SANDBOX_TARGET!r} does not `pip install -r requirements.txt` "
            "and `-r requirements-dev.txt` with `-c constraints.txt`"
        )
    if re.search(
        r"(?i)^\s*(ENV|ARG)\s+\S*(PASSWORD|SECRET|TOKEN|FERNET|AIRFLOW_CONN_)",
        dockerfile,
        re.MULTILINE,
    ):
        problems.append("Dockerfile sets a secret-looking ENV/ARG")
    return problems


def check_pools(pools: dict) -> list[str]:
    problems = []
    if set(pools) != set(POOLS_EXPECTED):
        problems.append(f"pools are {sorted(pools)}, expected {sorted(POOLS_EXPECTED)}")
    for name, pool in pools.items():
        # The shape `airflow pools import` accepts (airflow/cli/commands/pool_command.py).
        if not isinstance(pool, dict) or not {"slots", "description"} <= pool.keys():
            problems.append(f"{name}: needs slots and description")
            continue
        if pool["slots"] != POOLS_EXPECTED.get(name, pool["slots"]) or not isinstance(
            pool["slots"], int
        ):
            problems.append(
                f"{name}: slots {pool['slots']!r}, expected {POOLS_EXPECTED.get(name)}"
            )
        if not isinstance(pool["description"], str) or not pool["description"].strip():
            problems.append(f"{name}: empty description")
        if not isinstance(pool.get("include_deferred", False), bool):
            problems.append(f"{name}: include_deferred must be a boolean")
    return problems


# --------------------------------------------------------------------------- the real files


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


def test_compose_matches_the_compose_spec(compose):
    assert check_schema(compose) == []


def test_compose_has_airflow_3_topology(compose):
    assert check_topology(compose) == []


def test_every_airflow_service_gets_the_same_folders_settings_and_connections(compose):
    assert set(CORE_SERVICES) <= set(airflow_services(compose))
    assert check_airflow_services(compose) == []


def test_no_setting_is_duplicated_or_contradicted(compose):
    assert check_single_source(compose, read_env_file()) == []


def test_image_is_built_from_the_pinned_dockerfile(compose):
    assert check_image(compose, DOCKERFILE.read_text()) == []
    requirements = (ROOT / "requirements.txt").read_text()
    version, _python = re.fullmatch(
        r"apache/airflow:([\d.]+)-python([\d.]+)", BASE_IMAGE
    ).groups()
    assert f"apache-airflow=={version}\n" in requirements, (
        "requirements.txt pins another Airflow than the image"
    )
    # The build context is an allow-list that must still let the dependency lists in.
    ignore = DOCKERIGNORE.read_text().splitlines()
    assert {"!requirements.txt", "!requirements-dev.txt", "!constraints.txt"} <= set(
        ignore
    ) or "*" not in ignore


def test_pools_file_names_the_pools_tasks_use():
    assert check_pools(json.loads(POOLS.read_text())) == []


def test_sandbox_service_is_opt_in_and_on_fixed_ports(compose):
    sandbox = compose["services"]["sandbox"]
    assert sandbox["profiles"] == ["sandbox"]
    command = sandbox["command"]
    assert command[:3] == ["python", "-m", "sandbox"]
    assert command[command.index("--state-dir") + 1] == "/opt/airflow/.sandbox"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    # Other containers call https://sandbox:4567: the certificate must name it.
    assert command[command.index("--tls-name") + 1] == "sandbox"
    assert mounts(sandbox).get("/opt/airflow/sandbox") == "./sandbox"
    # load_estate_config imports estate_ops from <repo>/plugins.
    assert mounts(sandbox).get("/opt/airflow/plugins") == "./plugins"
    assert {"4566:4566", "4567:4567", "4568:4568"} <= set(sandbox["ports"])
    # Its own image (the Dockerfile's sandbox stage, with moto[server]): check_image.
    assert sandbox["build"]["target"] == SANDBOX_TARGET
    assert sandbox["image"] != compose["x-airflow-common"]["image"]
    # Airflow services trust its CA through the bundle in its state volume, read-only to them.
    for name, svc in airflow_services(compose).items():
        assert "sandbox-state:/opt/airflow/.sandbox:ro" in svc["volumes"], name
    common = as_dict(compose["x-airflow-common"]["environment"])
    for key in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        assert common[key] == f"${{{key}:-/etc/ssl/certs/ca-certificates.crt}}", key
    # Nothing of the deployment depends on it: it is started on demand only.
    for svc in compose["services"].values():
        assert "sandbox" not in (svc.get("depends_on") or {})


# --------------------------------------------------------------------------- the checkers can fail


def _without_mount(data, service, target):
    svc = data["services"][service]
    svc["volumes"] = [v for v in svc["volumes"] if str(v).split(":")[1:2] != [target]]


MUTATIONS = {
    "missing include mount": (
        lambda d: _without_mount(d, "airflow-worker", "/opt/airflow/include"),
        check_airflow_services,
        "airflow-worker: ./include is not mounted",
    ),
    "missing dags mount": (
        lambda d: _without_mount(d, "airflow-dag-processor", "/opt/airflow/dags"),
        check_airflow_services,
        "airflow-dag-processor: ./dags is not mounted",
    ),
    "missing env_file": (
        lambda d: d["services"]["airflow-triggerer"].pop("env_file"),
        check_airflow_services,
        "airflow-triggerer: env_file",
    ),
    "differing executor": (
        lambda d: d["services"]["airflow-scheduler"]["environment"].__setitem__(
            "AIRFLOW__CORE__EXECUTOR", "LocalExecutor"
        ),
        check_airflow_services,
        "airflow-scheduler: AIRFLOW__CORE__EXECUTOR is 'LocalExecutor'",
    ),
    "missing connection in one service": (
        lambda d: d["services"]["airflow-worker"]["environment"].pop(
            "AIRFLOW_CONN_SLACK_API_DEFAULT"
        ),
        check_airflow_services,
        "airflow-worker: AIRFLOW_CONN_SLACK_API_DEFAULT is None",
    ),
    "literal connection secret": (
        lambda d: [
            svc["environment"].__setitem__(
                "AIRFLOW_CONN_AWS_DEFAULT", "aws://AKIA:secret@"
            )
            for svc in [d["x-airflow-common"], *airflow_services(d).values()]
        ],
        check_airflow_services,
        "AIRFLOW_CONN_AWS_DEFAULT must come from the shell",
    ),
    "sqlite database": (
        lambda d: [
            svc["environment"].__setitem__(
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "sqlite:////tmp/a.db"
            )
            for svc in [d["x-airflow-common"], *airflow_services(d).values()]
        ],
        check_airflow_services,
        "x-airflow-common: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN='sqlite",
    ),
    "other image": (
        lambda d: d["services"]["airflow-worker"].__setitem__(
            "image", "apache/airflow:3.0.0"
        ),
        check_airflow_services,
        "do not share one image",
    ),
    "contradicts airflow.env": (
        lambda d: d["services"]["airflow-apiserver"]["environment"].__setitem__(
            "AIRFLOW__CORE__LOAD_EXAMPLES", "True"
        ),
        lambda d: check_single_source(d, read_env_file()),
        "airflow-apiserver: AIRFLOW__CORE__LOAD_EXAMPLES=True contradicts",
    ),
    "duplicates airflow.env under a deprecated name": (
        lambda d: d["services"]["airflow-apiserver"]["environment"].__setitem__(
            "AIRFLOW__WEBSERVER__EXPOSE_CONFIG", "False"
        ),
        lambda d: check_single_source(d, read_env_file()),
        "AIRFLOW__WEBSERVER__EXPOSE_CONFIG=False duplicates config/airflow.env's AIRFLOW__API__EXPOSE_CONFIG",
    ),
    "same option twice in a service": (
        lambda d: d["services"]["airflow-worker"]["environment"].__setitem__(
            "AIRFLOW__CORE__SQL_ALCHEMY_CONN", "x"
        ),
        lambda d: check_single_source(d, read_env_file()),
        "airflow-worker: AIRFLOW__CORE__SQL_ALCHEMY_CONN sets [database] sql_alchemy_conn again",
    ),
    "missing service": (
        lambda d: d["services"].pop("airflow-dag-processor"),
        check_topology,
        "missing service airflow-dag-processor",
    ),
    "init without pools": (
        lambda d: d["services"]["airflow-init"].__setitem__(
            "command", ["-c", "airflow db migrate"]
        ),
        check_topology,
        "airflow-init does not run `airflow pools import",
    ),
    "invalid compose": (
        lambda d: d["services"]["redis"].__setitem__("restart", ["always"]),
        check_schema,
        "services/redis/restart",
    ),
    "not built from the Dockerfile": (
        lambda d: d["services"]["airflow-triggerer"].pop("build"),
        lambda d: check_image(d, DOCKERFILE.read_text()),
        "airflow-triggerer: not built from ./Dockerfile",
    ),
    "Airflow service built from the sandbox stage": (
        lambda d: d["services"]["airflow-worker"]["build"].__setitem__(
            "target", SANDBOX_TARGET
        ),
        lambda d: check_image(d, DOCKERFILE.read_text()),
        "airflow-worker: build.target is 'sandbox', expected 'airflow'",
    ),
    "Airflow service built without a target": (
        lambda d: d["services"]["airflow-scheduler"]["build"].pop("target"),
        lambda d: check_image(d, DOCKERFILE.read_text()),
        "airflow-scheduler: build.target is None, expected 'airflow'",
    ),
    "sandbox built from the Airflow stage": (
        lambda d: d["services"]["sandbox"]["build"].__setitem__(
            "target", AIRFLOW_TARGET
        ),
        lambda d: check_image(d, DOCKERFILE.read_text()),
        "sandbox: build.target is 'airflow', expected 'sandbox'",
    ),
    "sandbox tagged as the Airflow image": (
        lambda d: d["services"]["sandbox"].__setitem__(
            "image", d["x-airflow-common"]["image"]
        ),
        lambda d: check_image(d, DOCKERFILE.read_text()),
        "sandbox: image '${AIRFLOW_IMAGE_NAME:-estate-ops-airflow:local}' is the Airflow services' tag",
    ),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_checker_catches(compose, name):
    mutate, check, expected = MUTATIONS[name]
    data = copy.deepcopy(compose)
    mutate(data)
    problems = check(data)
    assert any(expected in p for p in problems), problems


def test_checker_catches_duplicates_within_airflow_env(compose):
    entries = [*read_env_file(), (99, "AIRFLOW__WEBSERVER__EXPOSE_CONFIG", "True")]
    assert any(
        "AIRFLOW__WEBSERVER__EXPOSE_CONFIG=True contradicts AIRFLOW__API__EXPOSE_CONFIG=False"
        in p
        for p in check_single_source(compose, entries)
    )


def _edit(old: str, new: str, count: int = 1):
    """A Dockerfile mutation: replace old (which must occur) with new, `count` times."""

    def mutate(text: str) -> str:
        assert old in text, (
            f"the Dockerfile no longer contains {old!r}: update this mutation"
        )
        return text.replace(old, new, count)

    return mutate


def _airflow_stage_first(text: str) -> str:
    """The Airflow stage moved before the sandbox's, so the sandbox becomes the default build."""
    stage = "FROM base AS airflow"
    assert text.rstrip().endswith(stage), (
        "the Airflow stage is no longer last: update this mutation"
    )
    return _edit("FROM base AS sandbox", f"{stage}\n\nFROM base AS sandbox")(
        text[: text.rindex(stage)]
    )


DOCKERFILE_MUTATIONS = {
    "other base image": (
        _edit(f"FROM {BASE_IMAGE}", "FROM apache/airflow:3.0.2"),
        "FROM is",
    ),
    "second base image": (
        _edit("FROM base AS sandbox", f"FROM {BASE_IMAGE} AS sandbox"),
        "stage sandbox: FROM apache/airflow",
    ),
    "unconstrained runtime install": (
        _edit(
            "RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt",
            "RUN pip install --no-cache-dir -r requirements.txt",
        ),
        "does not `pip install -r requirements.txt -c constraints.txt`",
    ),
    "constraints not copied": (
        _edit("COPY requirements.txt constraints.txt ./", "COPY requirements.txt ./"),
        "COPY constraints.txt",
    ),
    "secret in the image": (
        _edit(
            "WORKDIR /opt/airflow",
            "ENV AIRFLOW_CONN_AWS_DEFAULT=aws://x\nWORKDIR /opt/airflow",
        ),
        "secret-looking",
    ),
    "dev packages in the Airflow image": (
        _edit(
            "-r requirements.txt -c constraints.txt",
            "-r requirements.txt -r requirements-dev.txt -c constraints.txt",
        ),
        "stage 'airflow' (or one it is built FROM) uses requirements-dev.txt",
    ),
    "dev packages copied into the base stage": (
        _edit(
            "COPY requirements.txt constraints.txt ./",
            "COPY requirements.txt requirements-dev.txt constraints.txt ./",
        ),
        "uses requirements-dev.txt",
    ),
    "sandbox without the dev packages": (
        _edit(
            "-r requirements.txt -r requirements-dev.txt -c constraints.txt",
            "-r requirements.txt -c constraints.txt",
        ),
        "stage 'sandbox' does not `pip install -r requirements.txt` and `-r requirements-dev.txt`",
    ),
    "no Airflow stage": (
        _edit("FROM base AS airflow", "FROM base AS runtime"),
        "no stage 'airflow'",
    ),
    "sandbox is the default build": (
        _airflow_stage_first,
        "last stage is 'sandbox'",
    ),
}


def test_real_dockerfile_passes_before_mutation(compose):
    # The mutations below start from a Dockerfile the checker accepts.
    assert check_image(compose, DOCKERFILE.read_text()) == []


@pytest.mark.parametrize("name", DOCKERFILE_MUTATIONS)
def test_dockerfile_checker_catches(compose, name):
    mutate, expected = DOCKERFILE_MUTATIONS[name]
    text = DOCKERFILE.read_text()
    mutated = mutate(text)
    assert mutated != text, f"{name}: the mutation changed nothing"
    problems = check_image(compose, mutated)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("pools", "expected"),
    [
        (
            {
                "rds_api": {"slots": 12, "description": "x"},
                "pagerduty_api": {"slots": 8, "description": "x"},
            },
            "expected",
        ),
        (
            {
                **{
                    k: {"slots": v, "description": "x"}
                    for k, v in POOLS_EXPECTED.items()
                },
                "rds_api": {"slots": 20, "description": "x"},
            },
            "rds_api: slots 20",
        ),
        (
            {
                **{
                    k: {"slots": v, "description": "x"}
                    for k, v in POOLS_EXPECTED.items()
                },
                "pagerduty_api": {"slots": 8},
            },
            "pagerduty_api: needs slots and description",
        ),
    ],
)
def test_pools_checker_catches(pools, expected):
    assert any(expected in p for p in check_pools(pools))
