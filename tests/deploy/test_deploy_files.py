"""The deployment files, checked without Docker, Kubernetes or systemd: they parse, they name only
real settings, every setting is documented, and the container installs the project the way the
README does (pip, from the repository, on the Python the project declares).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.cli import adapters
from bots.discord.settings import DiscordSettings
from core.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"

# The shared settings and every registered adapter's own: deploy files may set any of them.
SETTINGS_CLASSES = (Settings, *(adapter.settings for adapter in adapters()))
SETTINGS = {env_name(field, cls) for cls in SETTINGS_CLASSES for field in cls.model_fields}
# The settings table of CONTRACT.md: names operators rely on, so they must stay settings.
CONTRACT_SETTINGS = (
    "NEMO_BASE_URL",
    "NEMO_TOKEN",
    "JUPITER_DATABASE_URL",
    "JUPITER_HEARTBEAT_SECONDS",
    "JUPITER_RENDER_POLL_SECONDS",
    "JUPITER_RETRY_AFTER_SECONDS",
    "JUPITER_TURN_TIMEOUT_SECONDS",
    "JUPITER_HTTP_PORT",
    "JUPITER_JOB_LEASE_SECONDS",
    "JUPITER_LOG_LEVEL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DISCORD_TOKEN",
    "DISCORD_API_URL",
    "DISCORD_GATEWAY_URL",
    "DISCORD_SHARD_COUNT",
    "DISCORD_SHARD_IDS",
)
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}  # read by compose itself, never by jupiter
SHARD_WRAPPER_INPUTS = {"POD_NAME", "SHARD_PODS", "SHARDS_PER_POD"}
JUPITER_SERVICES = ("bot", "discord", "sim")
HEALTH_PATH = "/healthz"
LIVE_PATH = "/livez"
DEFAULT_PORT = Settings.model_fields["http_port"].default


def _yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _k8s_objects() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in _yaml_documents(path)
    ]


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        o
        for o in _k8s_objects()
        if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return containers


def _env_example() -> dict[str, tuple[str, bool]]:
    """NAME -> (value, set): every `NAME=value` line, commented out (`# NAME=`) or not."""
    names: dict[str, tuple[str, bool]] = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            names[match[2]] = (match[3], match[1] is None)
    return names


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return compose


def _assert_python_check(command: list[str], path: str) -> None:
    """A health check run by the image's Python (the slim image has no curl)."""
    assert command[:2] == ["python", "-c"], command
    compile(command[2], "<healthcheck>", "exec")
    assert path in command[2] and "urlopen" in command[2]


# -- settings ----------------------------------------------------------------------------------


def test_every_contract_setting_is_a_setting() -> None:
    assert set(CONTRACT_SETTINGS) <= SETTINGS, set(CONTRACT_SETTINGS) - SETTINGS


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    documented = set(_env_example())
    assert documented - COMPOSE_ONLY == SETTINGS, {
        "undocumented settings": SETTINGS - documented,
        "not settings": documented - COMPOSE_ONLY - SETTINGS,
    }


def test_env_example_sets_no_real_secret() -> None:
    """Lines left active hold placeholders only, and every value that is set parses."""
    active = {name: value for name, (value, is_set) in _env_example().items() if is_set}
    for name, value in active.items():
        if name in COMPOSE_ONLY or name.endswith(("TOKEN", "SECRET", "KEY", "PASSWORD")):
            assert re.search(r"change-me|your-", value), f"{name} looks like a real secret"
    settings = {k: v for k, v in active.items() if k in SETTINGS}
    for cls in SETTINGS_CLASSES:
        cls.model_validate(settings)


# -- compose -----------------------------------------------------------------------------------


def test_compose_runs_the_bot_on_postgresql_once_it_is_healthy() -> None:
    services = _compose()["services"]
    assert set(services) >= {"db", *JUPITER_SERVICES}
    db, bot = services["db"], services["bot"]
    assert re.fullmatch(r"postgres:16(\.\d+)?(-\w+)?", db["image"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    data = [v for v in db["volumes"] if v.endswith(":/var/lib/postgresql/data")]
    assert data and data[0].split(":")[0] in _compose()["volumes"]

    assert bot["command"] == ["slack", "--http"]
    assert bot["env_file"] == ".env"
    assert bot["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert f"{DEFAULT_PORT}:{DEFAULT_PORT}" in bot["ports"]
    _assert_python_check(bot["healthcheck"]["test"][1:], HEALTH_PATH)
    assert bot["healthcheck"]["test"][0] == "CMD"
    url = bot["environment"]["JUPITER_DATABASE_URL"]
    assert url.startswith("postgresql://") and "@db:5432/" in url
    for name in ("bot", "discord"):
        assert services[name]["depends_on"] == {"db": {"condition": "service_healthy"}}


def test_compose_optional_services_sit_behind_profiles() -> None:
    services = _compose()["services"]
    assert services["discord"]["command"] == ["discord"]
    assert services["discord"]["profiles"] == ["discord"]
    assert services["discord"]["healthcheck"] == {"disable": True}  # it serves no /healthz
    sim = services["sim"]
    assert sim["profiles"] == ["offline"]
    assert sim["command"][:3] == ["sim", "--host", "0.0.0.0"]
    _assert_python_check(sim["healthcheck"]["test"][1:], "/_sim/faults")
    assert "profiles" not in services["bot"] and "profiles" not in services["db"]


def test_compose_names_only_settings() -> None:
    services = _compose()["services"]
    for name in JUPITER_SERVICES:
        environment = services[name].get("environment", {})
        assert set(environment) <= SETTINGS, (name, set(environment) - SETTINGS)
    interpolated = set(re.findall(r"\$\{(\w+)", (DEPLOY / "compose.yaml").read_text()))
    assert interpolated <= COMPOSE_ONLY | SETTINGS, interpolated
    assert interpolated <= set(_env_example()), "compose reads a variable .env.example omits"


# -- Kubernetes --------------------------------------------------------------------------------


def test_k8s_manifests_parse_and_kustomization_lists_them() -> None:
    kinds = {o["kind"] for o in _k8s_objects()}
    assert kinds >= {
        "Deployment",
        "Service",
        "StatefulSet",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
    }
    for o in _k8s_objects():
        assert o["apiVersion"] and o["metadata"]["name"], o
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    # The Secret is a template, applied by hand: `apply -k` must never overwrite the real one.
    assert listed == on_disk - {"secret.example.yaml"}
    assert [i["name"] for i in kustomization["images"]] == ["jupiter"]


def test_k8s_secret_template_holds_no_real_values() -> None:
    secret = _one("Secret")
    assert secret["metadata"]["name"] == "jupiter-secrets"
    for name, value in secret["stringData"].items():
        assert name in SETTINGS, name
        assert "CHANGE-ME" in value, f"{name} must stay a placeholder"


def test_k8s_slack_deployment_has_replicas_probes_and_limits() -> None:
    deployment = _one("Deployment", "jupiter-slack")
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = _containers(deployment)
    assert container["image"] == "jupiter"
    assert container["args"] == ["slack", "--http"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    config = _one("ConfigMap", "jupiter-config")["data"]
    assert ports["http"] == int(config["JUPITER_HTTP_PORT"])
    # ready while the store answers; alive while the process answers (/livez does no work: a
    # database outage makes pods unready, and restarting them would not bring it back)
    for probe, path in (("readinessProbe", HEALTH_PATH), ("livenessProbe", LIVE_PATH)):
        check = container[probe]["httpGet"]
        assert check["path"] == path and check["port"] in ("http", ports["http"]), probe
    # /healthz itself waits up to 5 s for the store
    assert container["readinessProbe"]["timeoutSeconds"] > 5
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False

    service = _one("Service", "jupiter-slack")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in ("http", ports["http"])
    budget = _one("PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_k8s_workloads_name_only_settings_and_existing_sources() -> None:
    sources = {(o["kind"], o["metadata"]["name"]) for o in _k8s_objects()}
    assert set(_one("ConfigMap")["data"]) <= SETTINGS
    for workload in (_one("Deployment"), _one("StatefulSet")):
        for container in _containers(workload):
            names = {e["name"] for e in container.get("env", [])}
            assert names <= SETTINGS | SHARD_WRAPPER_INPUTS, names - SETTINGS
            for source in container["envFrom"]:
                kind, ref = next(iter(source.items()))
                kind = {"configMapRef": "ConfigMap", "secretRef": "Secret"}[kind]
                assert (kind, ref["name"]) in sources


def test_k8s_runs_the_images_user() -> None:
    user = re.search(r"^USER (\d+)", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert user is not None
    for workload in (_one("Deployment"), _one("StatefulSet")):
        assert workload["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(user[1])


def test_k8s_discord_statefulset_is_governed_by_a_headless_service() -> None:
    statefulset = _one("StatefulSet", "jupiter-discord")
    service = _one("Service", statefulset["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    (container,) = _containers(statefulset)
    env = {e["name"]: e for e in container["env"]}
    assert env["SHARD_PODS"]["value"] == str(statefulset["spec"]["replicas"])
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def _shards(tmp_path: Path, pod: str, pods: int, per_pod: int) -> subprocess.CompletedProcess[str]:
    """Run the StatefulSet's wrapper as pod `pod`, with a `jupiter` that prints what it got."""
    (container,) = _containers(_one("StatefulSet"))
    shell, flag, script = container["command"]
    fake = tmp_path / "bin" / "jupiter"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text('#!/bin/sh\necho "$DISCORD_SHARD_COUNT $DISCORD_SHARD_IDS $*"\n')
    fake.chmod(0o755)
    env = {
        "PATH": f"{fake.parent}:{os.environ['PATH']}",
        "POD_NAME": pod,
        "SHARD_PODS": str(pods),
        "SHARDS_PER_POD": str(per_pod),
    }
    return subprocess.run(
        [shell, flag, script], env=env, capture_output=True, text=True, timeout=10, check=False
    )


@pytest.mark.parametrize(("pods", "per_pod"), [(2, 1), (3, 4)])
def test_k8s_shard_wrapper_gives_each_pod_its_own_shards(
    tmp_path: Path, pods: int, per_pod: int
) -> None:
    seen: list[int] = []
    for ordinal in range(pods):
        done = _shards(tmp_path, f"jupiter-discord-{ordinal}", pods, per_pod)
        assert done.returncode == 0, done.stderr
        count, ids, command = done.stdout.split()
        assert command == "discord"
        settings = DiscordSettings.model_validate(
            {"DISCORD_SHARD_COUNT": count, "DISCORD_SHARD_IDS": ids}
        )
        assert settings.discord_shard_count == pods * per_pod
        assert settings.discord_shard_ids is not None
        seen += settings.discord_shard_ids
    assert sorted(seen) == list(range(pods * per_pod))  # every shard, once


def test_k8s_shard_wrapper_refuses_a_pod_beyond_the_shard_layout(tmp_path: Path) -> None:
    done = _shards(tmp_path, "jupiter-discord-2", pods=2, per_pod=1)
    assert done.returncode == 2 and "SHARD_PODS" in done.stderr


# -- the image ---------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def _args(instruction: str) -> list[str]:
    return [rest for word, rest in _dockerfile() if word == instruction]


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pip_installs(text: str) -> Iterator[list[str]]:
    """The arguments of every `pip install` in `text` (shell lines)."""
    for command in re.split(r"&&|;|\n", text):
        if not re.search(r"\bpip install\b", command):
            continue
        words = shlex.split(command.split("#")[0])
        for at in range(len(words) - 1):
            if words[at].endswith("pip") and words[at + 1] == "install":
                yield [w for w in words[at + 2 :] if not w.startswith("-")]


def test_image_is_multi_stage_slim_on_the_projects_python() -> None:
    images = _args("FROM")
    assert len(images) >= 2 and images[0].endswith(" AS build")
    (version,) = re.findall(
        r"^ARG PYTHON_VERSION=(\S+)$", (DEPLOY / "Dockerfile").read_text(), re.M
    )
    assert _pyproject()["project"]["requires-python"] == f">={version}"
    for image in images:
        assert image.split()[0] == "python:${PYTHON_VERSION}-slim"
    assert not [run for run in _args("RUN") if "apt-get" in run]  # the wheels bundle their libs


def test_image_runs_jupiter_as_a_non_root_user() -> None:
    (user,) = _args("USER")
    assert user.split(":")[0] not in ("root", "0")
    assert _args("ENTRYPOINT") == ['["jupiter"]']
    assert "jupiter" in _pyproject()["project"]["scripts"]
    assert _args("CMD") == ['["run"]']
    assert _args("EXPOSE") == [str(DEFAULT_PORT)]
    assert _args("STOPSIGNAL") in ([], ["SIGTERM"])  # jupiter stops cleanly on SIGTERM
    (health,) = _args("HEALTHCHECK")
    command = json.loads(health.split(" CMD ", 1)[1])  # exec form: no shell in the way
    _assert_python_check(command, HEALTH_PATH)
    assert "JUPITER_HTTP_PORT" in command[-1]


def test_image_installs_the_project_as_the_readme_does() -> None:
    """The README's quickstart installs with pip from the repository root (through `make`); the
    image does the same: a wheel of `.` with its dependencies, into a virtual environment."""
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make demo" in readme
    assert re.search(r"Python 3\.11", readme)
    readme_installs = [*_pip_installs(makefile), *_pip_installs(readme)]
    project = [
        target
        for args in readme_installs
        for target in args
        if re.fullmatch(r"\.(\[.*\])?", target)
    ]
    assert project, "the README/Makefile install the project with pip from the repository root"

    runs = " && ".join(_args("RUN"))
    assert re.search(r"pip wheel --no-deps --wheel-dir (\S+) \.(\s|$)", runs)
    installs = list(_pip_installs(runs))
    assert installs == [["/dist/*.whl"]], installs
    assert "python -m venv /opt/jupiter" in runs
    copied = {word for args in _args("COPY") for word in args.split()[:-1]}
    packages = {
        p.rstrip("*") for p in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert {"pyproject.toml", _pyproject()["project"]["readme"], *packages} <= copied


# -- systemd -----------------------------------------------------------------------------------


def _unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key, value))
    return sections


@pytest.mark.parametrize(
    ("unit", "command"), [("jupiter.service", "slack"), ("jupiter-discord.service", "discord")]
)
def test_systemd_units_are_hardened_services(unit: str, command: str) -> None:
    sections = _unit(SYSTEMD / unit)
    assert set(sections) == {"Unit", "Service", "Install"}
    service = dict(sections["Service"])
    assert service["ExecStart"].split() == ["/opt/jupiter/bin/jupiter", command]
    assert service["EnvironmentFile"].startswith("/etc/jupiter/")
    assert service["DynamicUser"] == "yes" or service.get("User") not in (None, "root")
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service.get("KillSignal", "SIGTERM") == "SIGTERM"  # jupiter stops cleanly on SIGTERM
    state = service["StateDirectory"]
    environment = dict(
        item.split("=", 1)
        for key, value in sections["Service"]
        if key == "Environment"
        for item in shlex.split(value)
    )
    assert set(environment) <= SETTINGS
    assert environment["JUPITER_DATABASE_URL"] == f"sqlite:////var/lib/{state}/jupiter.db"
    assert service["WorkingDirectory"] == f"/var/lib/{state}"
    assert "network-online.target" in dict(sections["Unit"])["After"]
    assert dict(sections["Install"])["WantedBy"] == "multi-user.target"


# -- the guide ---------------------------------------------------------------------------------


def test_readme_explains_every_file_and_links_the_platform_guides() -> None:
    guide = (DEPLOY / "README.md").read_text()
    files = [
        p.relative_to(DEPLOY).as_posix()
        for p in DEPLOY.rglob("*")
        if p.is_file() and p.parent.name not in ("slack", "discord") and p.name != "README.md"
    ]
    assert files
    for name in files:
        assert f"`{name}`" in guide or f"({name})" in guide, f"deploy/README.md skips {name}"
    for link in re.findall(r"\]\(([^)#]+)\)", guide):
        if "://" not in link:
            assert (DEPLOY / link).exists(), f"deploy/README.md links to a missing {link}"
    for must in (
        "slack/README.md",
        "discord/README.md",
        "JUPITER_JOB_LEASE_SECONDS",
        "JUPITER_SECRET_KEY",
        "/metrics",
    ):
        assert must in guide, must
