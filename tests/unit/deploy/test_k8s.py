"""deploy/k8s: each overlay rendered by `kubectl kustomize`, then validated.

Built-in kinds are validated against the Kubernetes OpenAPI JSON schemas that kubernetes-validate
ships (strict: an unknown field such as `livenesProbe` fails). KEDA's ScaledObject is a custom
resource without a schema here, so it gets structural checks. Then what a cluster would only show
at run time: probes, resources, grace periods, the Secret, autoscaling bounds, disruption budgets.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from shared.db.pending_work import OPEN_LANES, OPEN_WORK
from tests.support.deploy_manifests import REPO, activator_command, as_mapping, unknown_env_names

K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("base", "overlays/dev", "overlays/prod")
# The kubectl on the machine is 1.32: validate against the API it would be used with.
KUBERNETES_VERSION = "1.32.0"
SERVICES = ("gateway", "push-worker", "sync-worker", "status-recorder", "intake")
WORKERS = ("push-worker", "sync-worker", "status-recorder", "intake")
SCALED = {"push-worker": "PUSH_RUNS_IN_PARALLEL", "sync-worker": "SYNC_RUNS_IN_PARALLEL"}
SECRET_NAME = "activator-secrets"
SECRET_KEYS = ("DATABASE_URL", "CREDENTIALS_ENCRYPTION_KEY")
# Trigger metadata KEDA's postgresql scaler reads (pkg/scalers/postgresql_scaler.go); a misspelt key is
# ignored. The connection comes from the TriggerAuthentication, never from the metadata.
POSTGRES_TRIGGER_KEYS = {"query", "targetQueryValue", "activationTargetQueryValue"}
# uvicorn's timeout_graceful_shutdown in services/cli.py, plus the gateway's preStop sleep.
GATEWAY_SHUTDOWN_S = 20 + 5

Resource = dict[str, Any]


@cache
def _render(overlay: str) -> tuple[Resource, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail(
            "kubectl is not installed: the Kubernetes manifests cannot be rendered (apt-get install kubectl)"
        )
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / overlay)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return tuple(as_mapping(document) for document in yaml.safe_load_all(result.stdout) if document)


def _kind(resources: tuple[Resource, ...], kind: str) -> dict[str, Resource]:
    return {resource["metadata"]["name"]: resource for resource in resources if resource["kind"] == kind}


def _pod_spec(workload: Resource) -> Resource:
    return as_mapping(workload["spec"]["template"]["spec"])


def _containers(resources: tuple[Resource, ...]) -> Iterator[tuple[str, Resource]]:
    for kind in ("Deployment", "Job"):
        for name, workload in _kind(resources, kind).items():
            spec = _pod_spec(workload)
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                yield f"{kind}/{name}", as_mapping(container)


def _config(resources: tuple[Resource, ...]) -> dict[str, str]:
    (config_map,) = (
        resource
        for resource in resources
        if resource["kind"] == "ConfigMap" and resource["metadata"]["name"].startswith("activator-config")
    )
    return {key: str(value) for key, value in as_mapping(config_map["data"]).items()}


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.fixture(params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[Resource, ...]:
    return _render(request.param)


def test_every_built_in_resource_satisfies_the_kubernetes_schema(rendered: tuple[Resource, ...]) -> None:
    for resource in rendered:
        if resource["apiVersion"].startswith(("keda.sh/", "monitoring.coreos.com/")):
            continue
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_rejects_a_misspelt_field() -> None:
    deployment = copy.deepcopy(_kind(_render("base"), "Deployment")["gateway"])
    container = _pod_spec(deployment)["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_service_has_a_deployment_running_its_command(rendered: tuple[Resource, ...]) -> None:
    deployments = _kind(rendered, "Deployment")
    assert set(SERVICES) <= set(deployments)
    images = set()
    for name, deployment in deployments.items():
        assert _labels_match(
            deployment["spec"]["selector"]["matchLabels"],
            deployment["spec"]["template"]["metadata"]["labels"],
        )
        (container,) = _pod_spec(deployment)["containers"]
        assert activator_command(container["args"]) == name
        images.add(container["image"])
    assert len(images) == 1, f"one image runs every service, not {images}"


def test_every_container_has_probes_and_resources(rendered: tuple[Resource, ...]) -> None:
    for name, deployment in _kind(rendered, "Deployment").items():
        (container,) = _pod_spec(deployment)["containers"]
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        for probe in ("livenessProbe", "readinessProbe"):
            assert probe in container, f"{name} has no {probe}"
            assert container[probe]["httpGet"]["port"] in ports, f"{name}'s {probe} probes an undeclared port"
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), name
        assert "memory" in resources["limits"], name
    for name, container in _containers(rendered):
        assert "resources" in container, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name


def test_workers_probe_the_metrics_port_they_serve(rendered: tuple[Resource, ...]) -> None:
    metrics_port = int(_config(rendered)["METRICS_PORT"])
    deployments = _kind(rendered, "Deployment")
    for name in WORKERS:
        (container,) = _pod_spec(deployments[name])["containers"]
        assert {"name": "metrics", "containerPort": metrics_port} in container["ports"], name
    (gateway,) = _pod_spec(deployments["gateway"])["containers"]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_pods_get_longer_than_their_graceful_shutdown(rendered: tuple[Resource, ...]) -> None:
    """Otherwise the kubelet SIGKILLs a worker mid-batch and its run waits for the stuck-run supervisor."""
    graceful = float(_config(rendered)["WORKER_GRACEFUL_TIMEOUT_S"])
    deployments = _kind(rendered, "Deployment")
    for name in WORKERS:
        assert _pod_spec(deployments[name])["terminationGracePeriodSeconds"] >= graceful + 15, name
    assert _pod_spec(deployments["gateway"])["terminationGracePeriodSeconds"] > GATEWAY_SHUTDOWN_S


def test_no_job_that_a_second_apply_or_a_gitops_sync_would_trip_on(rendered: tuple[Resource, ...]) -> None:
    """A Job's pod template is immutable: `kubectl apply` of a new image failed while the finished Job was
    still there, and Argo CD or Flux recreated it on every sync. The pods migrate instead."""
    assert not _kind(rendered, "Job")
    assert not _kind(rendered, "CronJob")


def test_every_service_applies_the_migrations_before_it_starts(rendered: tuple[Resource, ...]) -> None:
    """A first install or an upgrade: pods must not start their service against an older schema."""
    deployments = _kind(rendered, "Deployment")
    for name in SERVICES:
        spec = _pod_spec(deployments[name])
        (init,) = spec["initContainers"]
        # yoyo under a database lock: pods starting together apply each migration once.
        assert activator_command(init["args"]) == "migrate", name
        assert "--wait" not in init["args"], f"{name}'s init container would wait for a Job that is gone"
        assert init["image"] == spec["containers"][0]["image"], name
        env = {item["name"] for item in init.get("env", [])}
        assert "DATABASE_URL" in env, name
        mounted = {mount["name"] for mount in init.get("volumeMounts", [])}
        assert mounted <= {volume["name"] for volume in spec.get("volumes", [])}, name


def test_secrets_are_referenced_never_inlined(rendered: tuple[Resource, ...]) -> None:
    assert not _kind(rendered, "Secret"), "a Secret in the manifests puts its value in git"
    config = _config(rendered)
    for key in SECRET_KEYS:
        assert key not in config
    for name, container in _containers(rendered):
        if container["args"][0] == "mock-platforms":
            continue
        env = {variable["name"]: variable for variable in container["env"]}
        for key in SECRET_KEYS:
            assert "value" not in env[key], f"{name} inlines {key}"
            assert env[key]["valueFrom"]["secretKeyRef"] == {"name": SECRET_NAME, "key": key}, name


def test_configuration_names_only_settings_activator_reads(rendered: tuple[Resource, ...]) -> None:
    config_maps = set(_kind(rendered, "ConfigMap"))
    assert unknown_env_names(list(_config(rendered))) == []
    for name, container in _containers(rendered):
        assert unknown_env_names([variable["name"] for variable in container.get("env", [])]) == [], name
        for source in container["envFrom"]:
            if "secretRef" in source:  # the Kafka client settings, when the operator made the Secret
                assert source["secretRef"] == {"name": "activator-kafka", "optional": True}, name
                continue
            assert source["configMapRef"]["name"] in config_maps, (
                f"{name} reads a ConfigMap that is not rendered"
            )


def test_scaled_objects_scale_the_command_workers_on_their_open_run_work(
    rendered: tuple[Resource, ...],
) -> None:
    """A command only opens its run: what a worker has to do is the open runs in Postgres, not Kafka lag."""
    config = _config(rendered)
    partitions = int(config["KAFKA_PARTITIONS"])
    deployments = _kind(rendered, "Deployment")
    scaled_objects = _kind(rendered, "ScaledObject")
    assert set(scaled_objects) == set(SCALED)
    for name, scaled_object in scaled_objects.items():
        assert scaled_object["apiVersion"] == "keda.sh/v1alpha1"
        spec = scaled_object["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        # Members beyond the partition count would sit idle in the command topic's group.
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions, name
        assert "replicas" not in deployments[name]["spec"], (
            f"{name}'s replicas field would fight KEDA on every apply"
        )
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "postgresql"
        metadata = trigger["metadata"]
        # The CRD types every metadata value as a string: an unquoted 4 is refused by the API server.
        assert all(isinstance(value, str) for value in metadata.values()), name
        assert set(metadata) <= POSTGRES_TRIGGER_KEYS, set(metadata) - POSTGRES_TRIGGER_KEYS
        query = " ".join(metadata["query"].split())
        kind = name.removesuffix("-worker")
        assert query == f"SELECT {OPEN_LANES} FROM runs WHERE kind = '{kind}' AND {OPEN_WORK}", (
            "the ScaledObject counts the lanes of what the executor calls an open run"
        )
        assert metadata["targetQueryValue"] == config[SCALED[name]], "one replica drives that many runs"
        assert _authentication_reads_the_database_secret(rendered, trigger["authenticationRef"]["name"])


def _authentication_reads_the_database_secret(resources: tuple[Resource, ...], name: str) -> bool:
    authentication = _kind(resources, "TriggerAuthentication")[name]
    assert authentication["apiVersion"] == "keda.sh/v1alpha1"
    (target,) = authentication["spec"]["secretTargetRef"]
    return bool(target == {"parameter": "connection", "name": SECRET_NAME, "key": "DATABASE_URL"})


def test_disruption_budgets_cover_every_service_without_blocking_drains(
    rendered: tuple[Resource, ...],
) -> None:
    budgets = _kind(rendered, "PodDisruptionBudget").values()
    for name in SERVICES:
        deployment = _kind(rendered, "Deployment")[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [
            budget for budget in budgets if _labels_match(budget["spec"]["selector"]["matchLabels"], labels)
        ]
        assert len(covering) == 1, f"{name} is covered by {len(covering)} budgets"
        spec = covering[0]["spec"]
        if "minAvailable" in spec:
            assert deployment["spec"].get("replicas", 1) > spec["minAvailable"], (
                f"{name} could never be drained"
            )
        else:
            assert spec["maxUnavailable"] >= 1, name


def test_services_route_to_pods_and_ports_that_exist(rendered: tuple[Resource, ...]) -> None:
    deployments = _kind(rendered, "Deployment").values()
    assert "gateway" in _kind(rendered, "Service")
    for name, service in _kind(rendered, "Service").items():
        (target,) = [
            deployment
            for deployment in deployments
            if _labels_match(
                service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]
            )
        ]
        port_names = {port["name"] for port in _pod_spec(target)["containers"][0]["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"Service {name} targets port {port['targetPort']}"


def test_overlays_differ_where_they_should() -> None:
    dev, prod = _render("overlays/dev"), _render("overlays/prod")
    assert {resource["metadata"].get("namespace") for resource in dev} == {"activator-dev"}
    assert {resource["metadata"].get("namespace") for resource in prod} == {"activator"}
    # The mock platforms live on private addresses: only dev has them, and only dev may reach them.
    assert "mock-platforms" in _kind(dev, "Deployment")
    assert _config(dev)["ACTIVATOR_EGRESS_ALLOW_PRIVATE"] == "true"
    assert "mock-platforms" not in _kind(prod, "Deployment")
    assert _config(prod)["ACTIVATOR_EGRESS_ALLOW_PRIVATE"] == "false"
    assert int(_config(prod)["KAFKA_REPLICATION_FACTOR"]) >= 3
    assert _kind(prod, "Deployment")["gateway"]["spec"]["replicas"] >= 2
