"""deploy/: the images, the compose file and the Kubernetes objects, checked offline.

The linters run as the Makefile's `lint-deploy` runs them (hadolint, shellcheck, kubernetes-validate
against the newest Kubernetes it bundles); the rest reads the files and checks what a linter cannot
know: that the services start in the right order, that every variable set is one of our settings,
that the images install with the same script as CI, and that no placeholder looks like a real secret.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic_settings import BaseSettings

from bot.config import load_config
from bot.config.settings import Settings
from inference.settings import WorkerSettings
from observability.logs import LogSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
DOCKERFILES = {"bot": DEPLOY / "bot.Dockerfile", "worker": DEPLOY / "worker.Dockerfile"}
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "env.example"

# Applied on their own before `kubectl apply -k` (kustomization.yaml says why), so not listed there.
JOBS = {"migrate-job.yaml", "models-train-job.yaml"}
# Custom resources: kubernetes-validate has no schema for them; SERVICEMONITOR_SCHEMA below instead.
SERVICEMONITORS = {"bot-servicemonitor.yaml", "worker-servicemonitor.yaml"}
NAMESPACE = "incident-bot"
APP_UID = 10001
# Only placeholders may stand where a secret goes.
PLACEHOLDER = "replace-me"


# ---------------------------------------------------------------------------------------------
# Helpers


def _tool(name: str) -> str:
    """A dev tool from this interpreter's environment (the `dev` extra installs it), else PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `make install` installs the dev extra, which has it")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def _makefile_variable(name: str) -> str:
    match = re.search(rf"^{name}\s*\??=\s*(\S+)\s*$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"the Makefile sets no {name}"
    return match.group(1)


def _k8s_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _objects() -> list[dict[str, Any]]:
    return [doc for path in _k8s_files() for doc in _docs(path)]


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in _objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name} in deploy/kubernetes, found {len(found)}"
    return found[0]


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    containers = _pod_spec(obj)["containers"]
    assert len(containers) == 1
    return containers[0]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


def _probe_port(container: dict[str, Any], probe: str) -> int:
    port = container[probe]["httpGet"]["port"]
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"env.example: not KEY=value: {line!r}"
            values[key.strip()] = value.strip()
    return values


def _dockerfile_stages(path: Path) -> list[list[str]]:
    """Instructions (continuation lines joined, comments dropped), grouped by FROM."""
    text = re.sub(r"\\\n\s*", " ", "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")))
    stages: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("FROM "):
            stages.append([])
        assert stages, f"{path.name}: an instruction before the first FROM: {line!r}"
        stages[-1].append(line.strip())
    return stages


def _aliases(*settings: type[BaseSettings]) -> set[str]:
    """The environment variable names the settings classes read (their upper-case aliases)."""
    names: set[str] = set()
    for cls in settings:
        for field in cls.model_fields.values():
            alias = field.validation_alias
            choices = getattr(alias, "choices", [alias]) if alias is not None else []
            names.update(c for c in choices if isinstance(c, str) and c.isupper())
    return names


BOT_VARIABLES = _aliases(Settings, LogSettings)
WORKER_VARIABLES = _aliases(WorkerSettings, LogSettings)
SECRET_VARIABLES = {
    alias
    for field in Settings.model_fields.values()
    if field.repr is False
    for alias in getattr(field.validation_alias, "choices", [])
    if isinstance(alias, str) and alias.isupper()
}


# ---------------------------------------------------------------------------------------------
# The linters, as `make lint-deploy` runs them


def test_dockerfiles_pass_hadolint() -> None:
    result = _run(_tool("hadolint"), "--config", "deploy/.hadolint.yaml", *map(str, DOCKERFILES.values()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_with_our_config_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    # The pass above means something only if the same invocation fails on a bad file.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\n")
    result = _run(_tool("hadolint"), "--config", "deploy/.hadolint.yaml", str(bad))
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # `latest` tag
    assert "DL3013" in result.stdout  # unpinned pip install


def test_install_script_passes_shellcheck() -> None:
    result = _run(_tool("shellcheck"), "deploy/install.sh")
    assert result.returncode == 0, result.stdout + result.stderr


def test_install_script_refuses_an_unknown_role(tmp_path: Path) -> None:
    result = _run("bash", "deploy/install.sh", str(tmp_path / "venv"), "sandbox")
    assert result.returncode == 2
    assert "usage" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_makefile_validates_against_the_newest_kubernetes_the_validator_bundles() -> None:
    from kubernetes_validate import utils  # type: ignore[import-untyped]

    assert _makefile_variable("K8S_VERSION") == utils.latest_version()


def _kubernetes_validate(*files: Path) -> subprocess.CompletedProcess[str]:
    version = _makefile_variable("K8S_VERSION")
    return _run(_tool("kubernetes-validate"), "--strict", "--kubernetes-version", version, *map(str, files))


def test_kubernetes_objects_validate_strictly() -> None:
    files = [p for p in _k8s_files() if p.name not in SERVICEMONITORS]
    result = _kubernetes_validate(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    # A kind it has no schema for is only a warning to it; here it fails (a misspelt kind).
    assert "WARN" not in result.stdout, result.stdout
    passed = [line for line in result.stdout.splitlines() if line.startswith("INFO") and " passed " in line]
    assert len(passed) == sum(len(_docs(p)) for p in files)


def test_the_validator_rejects_an_unknown_field(tmp_path: Path) -> None:
    deployment = _one("Deployment", "incident-bot")
    deployment["spec"]["replicaCount"] = 2  # not a Deployment field
    bad = tmp_path / "deployment.yaml"
    bad.write_text(yaml.safe_dump(deployment))
    result = _kubernetes_validate(bad)
    assert result.returncode != 0
    assert "replicaCount" in result.stdout


# ---------------------------------------------------------------------------------------------
# The images


@pytest.mark.parametrize("role", sorted(DOCKERFILES))
def test_image_installs_with_the_ci_script_in_a_builder_stage(role: str) -> None:
    builder, runtime = _dockerfile_stages(DOCKERFILES[role])
    assert re.fullmatch(r"FROM \S+ AS builder", builder[0])
    # CI runs `deploy/install.sh DIR bot`: the image must install the same way, not its own way.
    runs = [line for line in builder if line.startswith("RUN ")]
    assert runs == [f"RUN bash deploy/install.sh /opt/venv {role}"]
    assert not [line for line in runtime if "pip install" in line]
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime


def test_both_images_share_one_base_pinned_by_version_and_digest() -> None:
    bases = {line.split()[1] for path in DOCKERFILES.values() for stage in _dockerfile_stages(path)
             for line in stage[:1]}
    assert len(bases) == 1, bases
    (base,) = bases
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", base), base


@pytest.mark.parametrize(("role", "command", "port"), [("bot", "serve", 3000), ("worker", "worker", 9001)])
def test_runtime_stage_runs_as_a_numeric_user_with_a_healthcheck(role: str, command: str, port: int) -> None:
    runtime = _dockerfile_stages(DOCKERFILES[role])[-1]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users == [f"{APP_UID}:{APP_UID}"]
    assert f"EXPOSE {port}" in runtime
    healthcheck = next(line for line in runtime if line.startswith("HEALTHCHECK "))
    assert f"http://127.0.0.1:{port}/healthz" in healthcheck
    assert '"python", "-c"' in healthcheck and "urllib" in healthcheck  # slim images have no curl
    assert 'ENTRYPOINT ["incident-bot"]' in runtime
    assert f'CMD ["{command}", "--host", "0.0.0.0", "--port", "{port}"]' in runtime


def test_worker_image_installs_cpu_torch() -> None:
    builder = _dockerfile_stages(DOCKERFILES["worker"])[0]
    assert "ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu" in builder
    assert "PIP_EXTRA_INDEX_URL" not in DOCKERFILES["bot"].read_text()


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_the_package() -> None:
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    for excluded in (".env", "**/.env", ".git", ".venv", "var", "bench-results", ".pytest_cache", "tests"):
        assert excluded in patterns
    # What `pip install .` needs must stay in the build context.
    packages = re.search(r"include = \[([^\]]*)\]", (ROOT / "pyproject.toml").read_text())
    assert packages
    needed = {name.strip(' "*') for name in packages.group(1).split(",")}
    needed |= {"pyproject.toml", "README.md", "deploy", "deploy/install.sh"}
    assert "bot" in needed and "storage" in needed
    assert not needed & patterns, needed & patterns


# ---------------------------------------------------------------------------------------------
# Compose


def test_compose_has_the_services_in_their_start_order() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "migrate", "bot-1", "bot-2", "models", "worker"}

    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:\d+\.\d+\S*@sha256:[0-9a-f]{64}", postgres["image"])
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])

    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"

    host_ports = set()
    for name in ("bot-1", "bot-2"):
        bot = services[name]
        assert bot["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert bot["environment"]["MIGRATE_ON_START"] == "false"
        assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in bot["environment"]["DATABASE_URL"]
        assert bot["build"]["dockerfile"] == "deploy/bot.Dockerfile"
        (mapping,) = bot["ports"]
        host, container = mapping.split(":")
        assert container == "3000"
        host_ports.add(host)
    assert len(host_ports) == 2

    models, worker = services["models"], services["worker"]
    assert models["command"] == ["models", "train"]
    assert worker["depends_on"] == {"models": {"condition": "service_completed_successfully"}}
    registry = worker["environment"]["MODEL_REGISTRY"]
    assert models["environment"]["MODEL_REGISTRY"] == registry
    assert f"models:{registry}" in worker["volumes"] and f"models:{registry}" in models["volumes"]
    assert {"models", "pgdata"} <= set(_compose()["volumes"])
    assert services["bot-1"]["environment"]["WORKER_URL"] == "http://worker:9001"


def test_compose_hardens_our_containers() -> None:
    services = _compose()["services"]
    for name in ("migrate", "bot-1", "bot-2", "models", "worker"):
        assert services[name]["read_only"] is True, name
        assert services[name]["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in services[name]["security_opt"], name


def test_compose_reads_only_what_env_example_defines() -> None:
    referenced = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    defined = set(_env_example())
    assert referenced == defined, (referenced - defined, defined - referenced)


# ---------------------------------------------------------------------------------------------
# Kubernetes


def test_kustomization_lists_every_object_but_the_jobs() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == NAMESPACE
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert set(listed) == {p.name for p in _k8s_files()} - JOBS
    images = {_container(o)["image"].rsplit(":", 1)[0] for o in _objects() if o["kind"] in ("Deployment", "Job")}
    assert images == {entry["name"] for entry in kustomization["images"]}


def test_every_namespaced_object_is_in_the_namespace() -> None:
    objects = _objects()
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"] == [NAMESPACE]
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == NAMESPACE, f"{obj['kind']}/{obj['metadata']['name']}"


def test_api_versions_are_current() -> None:
    current = {"Deployment": "apps/v1", "Job": "batch/v1", "PodDisruptionBudget": "policy/v1",
               "NetworkPolicy": "networking.k8s.io/v1", "ServiceMonitor": "monitoring.coreos.com/v1"}
    for obj in _objects():
        assert obj["apiVersion"] == current.get(obj["kind"], "v1"), obj["kind"]


def test_bot_deployment() -> None:
    deployment = _one("Deployment", "incident-bot")
    assert deployment["spec"]["replicas"] == 2
    container = _container(deployment)
    assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", "3000"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert _probe_port(container, "readinessProbe") == _probe_port(container, "livenessProbe") == 3000
    env = _env(container)
    assert env["MIGRATE_ON_START"] == "false"
    assert container["envFrom"] == [{"secretRef": {"name": "incident-bot-secrets"}}]
    assert _one("Secret", "incident-bot-secrets")["stringData"]["DATABASE_URL"].startswith("postgresql://")
    resources = container["resources"]
    assert resources["requests"]["memory"] == "192Mi"
    assert {"cpu", "memory"} <= set(resources["limits"])
    # The worker, by its Service.
    worker = _one("Service", "incident-bot-worker")
    assert env["WORKER_URL"] == f"http://{worker['metadata']['name']}:{worker['spec']['ports'][0]['port']}"


def test_bot_reads_its_config_from_the_configmap() -> None:
    deployment = _one("Deployment", "incident-bot")
    container, pod = _container(deployment), _pod_spec(deployment)
    path = Path(_env(container)["INCIDENT_BOT_CONFIG"])
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(path.parent))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    configmap = _one("ConfigMap", volume["configMap"]["name"])
    assert path.name in configmap["data"]


def test_configmap_config_passes_the_bots_validator(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(_one("ConfigMap", "incident-bot-config")["data"]["config.yaml"])
    config = load_config(config_file)  # raises ConfigError, naming the key, on a wrong one
    assert "multimodal-api" in config.services


@pytest.mark.parametrize(("kind", "name"), [
    ("Deployment", "incident-bot"), ("Deployment", "incident-bot-worker"),
    ("Job", "incident-bot-migrate"), ("Job", "incident-bot-models-train"),
])
def test_pods_run_locked_down(kind: str, name: str) -> None:
    obj = _one(kind, name)
    pod, container = _pod_spec(obj), _container(obj)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == APP_UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    # With a read-only root, /tmp must be a volume.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/tmp"] == "tmp"
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_migration_job_uses_the_bot_image_and_its_secrets() -> None:
    job, deployment = _one("Job", "incident-bot-migrate"), _one("Deployment", "incident-bot")
    assert _container(job)["args"] == ["migrate"]
    assert _container(job)["image"] == _container(deployment)["image"]
    assert _container(job)["envFrom"] == _container(deployment)["envFrom"]
    assert _pod_spec(job)["restartPolicy"] == "Never"


def test_worker_deployment_serves_the_registry_volume() -> None:
    deployment = _one("Deployment", "incident-bot-worker")
    container, pod = _container(deployment), _pod_spec(deployment)
    assert container["args"] == ["worker", "--host", "0.0.0.0", "--port", "9001"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert _probe_port(container, "readinessProbe") == 9001
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "3Gi"}
    assert 1 <= deployment["spec"]["replicas"] <= 2
    registry = _env(container)["MODEL_REGISTRY"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == registry)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    claim = volume["persistentVolumeClaim"]["claimName"]
    pvc = _one("PersistentVolumeClaim", claim)
    if pvc["spec"]["accessModes"] == ["ReadWriteOnce"]:
        # An old and a new pod cannot both mount it during a rolling update on different nodes.
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert deployment["spec"]["replicas"] == 1
    train = _one("Job", "incident-bot-models-train")
    assert _container(train)["args"] == ["models", "train"]
    assert _env(_container(train))["MODEL_REGISTRY"] == registry
    assert any(v.get("persistentVolumeClaim", {}).get("claimName") == claim for v in _pod_spec(train)["volumes"])
    assert _container(train)["image"] == container["image"]


def test_services_select_the_pods_and_their_named_ports() -> None:
    deployments = [o for o in _objects() if o["kind"] == "Deployment"]
    for service in (o for o in _objects() if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        chosen = [d for d in deployments if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(chosen) == 1, service["metadata"]["name"]
        port_names = {p["name"] for p in _container(chosen[0])["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names
    assert _one("Service", "incident-bot")["spec"]["ports"][0]["port"] == 80
    assert _one("Service", "incident-bot-worker")["spec"]["ports"][0]["port"] == 9001
    pdb = _one("PodDisruptionBudget", "incident-bot")
    assert pdb["spec"]["selector"]["matchLabels"] == _one("Deployment", "incident-bot")["spec"]["selector"][
        "matchLabels"]


# The fields of monitoring.coreos.com/v1 ServiceMonitor that these manifests use, as its CRD
# defines them (prometheus-operator's openAPIV3Schema: spec.selector required, endpoints[].port a
# Service port's name, interval and scrapeTimeout Prometheus durations); anything else fails.
_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICEMONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object", "required": ["name", "namespace"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}, "labels": _LABELS},
        },
        "spec": {
            "type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object", "required": ["matchLabels"], "additionalProperties": False,
                    "properties": {"matchLabels": _LABELS},
                },
                "endpoints": {
                    "type": "array", "minItems": 1,
                    "items": {
                        "type": "object", "required": ["port", "path"], "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": _DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                        },
                    },
                },
            },
        },
    },
}


def _servicemonitors() -> Iterator[dict[str, Any]]:
    for name in sorted(SERVICEMONITORS):
        yield from _docs(K8S / name)


def test_servicemonitor_schema_rejects_a_misspelt_field() -> None:
    monitor = next(_servicemonitors())
    broken = {**monitor, "spec": {**monitor["spec"], "endpoints": [{"port": "http", "pth": "/metrics"}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SERVICEMONITOR_SCHEMA)


@pytest.mark.parametrize("service_name", ["incident-bot", "incident-bot-worker"])
def test_servicemonitor_scrapes_the_services_metrics(service_name: str) -> None:
    service = _one("Service", service_name)
    monitors = list(_servicemonitors())
    for monitor in monitors:
        jsonschema.validate(monitor, SERVICEMONITOR_SCHEMA)
    labels = service["metadata"]["labels"]
    chosen = [m for m in monitors if m["spec"]["selector"]["matchLabels"].items() <= labels.items()]
    assert len(chosen) == 1, f"{len(chosen)} ServiceMonitors select Service {service_name}"
    (endpoint,) = chosen[0]["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}


# ---------------------------------------------------------------------------------------------
# Settings and secrets


def _set_variables() -> Iterator[tuple[str, str, set[str]]]:
    """(where, variable, the variables that process reads) for every variable deploy/ sets."""
    for name in ("incident-bot", "incident-bot-migrate"):
        kind = "Deployment" if name == "incident-bot" else "Job"
        for var in _env(_container(_one(kind, name))):
            yield f"{kind}/{name}", var, BOT_VARIABLES
    for var in _one("Secret", "incident-bot-secrets")["stringData"]:
        yield "Secret/incident-bot-secrets (the bot's envFrom)", var, BOT_VARIABLES
    for name, kind in (("incident-bot-worker", "Deployment"), ("incident-bot-models-train", "Job")):
        for var in _env(_container(_one(kind, name))):
            yield f"{kind}/{name}", var, WORKER_VARIABLES
    services = _compose()["services"]
    for name in ("migrate", "bot-1", "bot-2"):
        for var in services[name]["environment"]:
            yield f"compose {name}", var, BOT_VARIABLES
    for name in ("models", "worker"):
        for var in services[name]["environment"]:
            yield f"compose {name}", var, WORKER_VARIABLES
    for var in _env_example():
        if var != "POSTGRES_PASSWORD":  # the postgres service's, and the bots' DATABASE_URL's
            yield "deploy/env.example", var, BOT_VARIABLES


def test_the_settings_aliases_are_read() -> None:
    # The comparison below is only as good as these sets.
    assert {"DATABASE_URL", "SLACK_BOT_TOKEN", "MIGRATE_ON_START", "LOG_FORMAT"} <= BOT_VARIABLES
    assert {"MODEL_REGISTRY", "TORCH_THREADS", "LOG_LEVEL"} <= WORKER_VARIABLES
    assert "MODEL_REGISTRY" not in BOT_VARIABLES and "DATABASE_URL" not in WORKER_VARIABLES
    assert {"SLACK_BOT_TOKEN", "DATABASE_URL", "EVENTBRIDGE_TOKEN"} <= SECRET_VARIABLES
    assert "WORKER_URL" not in SECRET_VARIABLES


def test_every_variable_deploy_sets_is_a_setting_of_its_process() -> None:
    unknown = [f"{where}: {var}" for where, var, known in _set_variables() if var not in known]
    assert not unknown, "not a setting of the process that gets it: " + ", ".join(unknown)


def test_secrets_live_in_the_secret_not_in_plain_env() -> None:
    for kind, name in (("Deployment", "incident-bot"), ("Job", "incident-bot-migrate")):
        leaked = set(_env(_container(_one(kind, name)))) & SECRET_VARIABLES
        assert not leaked, f"{kind}/{name} sets secrets in plain env: {leaked}"


def test_secret_placeholders_are_placeholders() -> None:
    values = {**{f"Secret {k}": v for k, v in _one("Secret", "incident-bot-secrets")["stringData"].items()},
              **{f"env.example {k}": v for k, v in _env_example().items()}}
    for where, value in values.items():
        key = where.split()[-1]
        if key in SECRET_VARIABLES or key == "POSTGRES_PASSWORD":
            assert PLACEHOLDER in value, f"{where} is not a placeholder"
    # The secrets compose passes come from .env, never written into the file itself.
    for name in ("bot-1", "bot-2", "migrate"):
        for var, value in _compose()["services"][name]["environment"].items():
            if var in SECRET_VARIABLES:
                assert "${" in value, f"compose {name}: {var} is written into compose.yaml"


# Shapes of real credentials: Slack tokens, AWS access keys, private keys, and long random strings
# (an image digest after sha256: is the one long hex string allowed).
REAL_SECRET = re.compile(
    r"xox[abposre]-\d+-[A-Za-z0-9-]+"
    r"|xapp-\d-[A-Za-z0-9-]+"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|(?<!sha256:)\b[0-9a-f]{32,}\b"
    r"|\b(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[a-z])(?=[A-Za-z0-9+/_-]*[A-Z])[A-Za-z0-9+/_-]{32,}"
)


def _secret_like(text: str) -> list[str]:
    return [m.group(0) for m in REAL_SECRET.finditer(text)]


def test_the_secret_scanner_finds_real_looking_values() -> None:
    assert _secret_like("SLACK_BOT_TOKEN=xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx")
    assert _secret_like("aws_access_key_id: AKIAIOSFODNN7EXAMPLE")
    assert _secret_like("SLACK_SIGNING_SECRET=8f742231b10e8888abcd99cc11ef85a5")
    assert _secret_like("PAGERDUTY_API_TOKEN: y_NbAkKc66ryYTWUXYEuwb3x1Ak9Tz4PlQ")
    assert not _secret_like("image: python:3.11@sha256:" + "0123456789abcdef" * 4)
    assert not _secret_like("SLACK_BOT_TOKEN=replace-me")


def test_no_file_in_deploy_holds_a_real_looking_secret() -> None:
    files = [p for p in DEPLOY.rglob("*") if p.is_file()] + [ROOT / ".dockerignore"]
    found = {str(p.relative_to(ROOT)): _secret_like(p.read_text()) for p in files}
    assert not {k: v for k, v in found.items() if v}
