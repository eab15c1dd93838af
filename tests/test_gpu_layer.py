"""The GPU software layer, tenant namespaces and the DCGM exporter, as rendered by the mock engine.

Each test states an invariant from SECURITY.md (31, 33, 34, 40) or a behaviour users rely
on, and checks it on the manifests exactly as the engine receives them.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from llm_infra.config import DevicePluginConfig
from llm_infra.kubernetes.dcgm_exporter import DcgmExporter
from llm_infra.kubernetes.device_plugin import NvidiaDevicePlugin
from llm_infra.kubernetes.gpu_layer import GpuSoftwareLayer
from llm_infra.kubernetes.tenant_namespace import TenantNamespace
from llm_infra.testing import CapturedResource, ProgramResult, run_program

REPO = Path(__file__).resolve().parents[1]
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ScaledObject"}
PLUGIN = ("DaemonSet", "nvidia-device-plugin-daemonset", "kube-system")
DCGM = ("DaemonSet", "dcgm-exporter", "gpu-monitoring")


def render(
    *,
    layer: dict[str, Any] | None = None,
    extra: Callable[[pulumi.ProviderResource], None] | None = None,
) -> ProgramResult:
    """Run a program with a provider and a GpuSoftwareLayer on it."""

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="apiVersion: v1\nkind: Config\n")
        gpu = GpuSoftwareLayer("gpu", {"provider": provider, **(layer or {})})
        pulumi.export("device_plugin_deployed", gpu.device_plugin_deployed)
        pulumi.export("dcgm_namespace", gpu.dcgm_namespace)
        if extra is not None:
            extra(provider)

    return run_program(program)


def _tenants_and_profiling(provider: pulumi.ProviderResource) -> None:
    TenantNamespace("llm-serving", {"provider": provider, "gpu_quota": 4, "labels": {"team": "llm"}})
    profiling_ns = TenantNamespace(
        "gpu-profiling", {"provider": provider, "gpu_quota": 0, "pod_security": "privileged"}
    )
    DcgmExporter(
        "dcgm-profiling",
        {"provider": provider, "namespace": profiling_ns.namespace, "profiling_metrics": True},
    )


@pytest.fixture(scope="module")
def full() -> ProgramResult:
    """Everything this layer can build: plugin with time-slicing, DCGM, a tenant, a profiling exporter."""
    return render(
        layer={"device_plugin": DevicePluginConfig(time_slicing_replicas=4)},
        extra=_tenants_and_profiling,
    )


@pytest.fixture(scope="module")
def default() -> ProgramResult:
    return render()


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["spec"]["template"]["spec"]


def only_container(manifest: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(manifest)["containers"]
    assert len(containers) == 1, containers
    assert not pod_spec(manifest).get("initContainers")
    return containers[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def host_paths(manifest: dict[str, Any]) -> list[str]:
    return [v["hostPath"]["path"] for v in pod_spec(manifest).get("volumes", []) if "hostPath" in v]


# --- device plugin (SECURITY 33) -------------------------------------------------------


def test_device_plugin_host_access_is_only_the_device_plugins_dir(default: ProgramResult) -> None:
    ds = default.k8s(*PLUGIN)
    assert host_paths(ds) == ["/var/lib/kubelet/device-plugins"]
    spec = pod_spec(ds)
    for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(host_namespace), host_namespace
    mounts = only_container(ds)["volumeMounts"]
    assert [m["mountPath"] for m in mounts] == ["/var/lib/kubelet/device-plugins"]


def test_device_plugin_is_not_privileged_and_drops_all_capabilities(default: ProgramResult) -> None:
    ds = default.k8s(*PLUGIN)
    sc = only_container(ds)["securityContext"]
    assert sc["privileged"] is False
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod_spec(ds)["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_device_plugin_has_bounded_resources(default: ProgramResult) -> None:
    resources = only_container(default.k8s(*PLUGIN))["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert set(resources["limits"]) == {"cpu", "memory"}


def test_device_plugin_has_its_own_service_account_without_a_token(default: ProgramResult) -> None:
    spec = pod_spec(default.k8s(*PLUGIN))
    assert spec["automountServiceAccountToken"] is False
    sa = default.k8s("ServiceAccount", spec["serviceAccountName"], "kube-system")
    assert spec["serviceAccountName"] != "default"
    assert sa["automountServiceAccountToken"] is False


def test_device_plugin_is_node_critical_and_tolerates_the_gpu_taint(default: ProgramResult) -> None:
    spec = pod_spec(default.k8s(*PLUGIN))
    assert spec["priorityClassName"] == "system-node-critical"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]


def _required_node_expressions(manifest: dict[str, Any]) -> list[list[dict[str, Any]]]:
    affinity = pod_spec(manifest)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    return [term["matchExpressions"] for term in affinity["nodeSelectorTerms"]]


def test_device_plugin_runs_only_on_nodes_with_the_gpu_pool_label(default: ProgramResult) -> None:
    assert _required_node_expressions(default.k8s(*PLUGIN)) == [
        [{"key": "llm-infra.io/gpu-pool", "operator": "Exists"}]
    ]


def test_gpu_node_selection_follows_the_clusters_label() -> None:
    result = render(layer={"gpu_node_label": "example.com/gpu-pool"})
    for ds in (result.k8s(*PLUGIN), result.k8s(*DCGM)):
        assert _required_node_expressions(ds) == [[{"key": "example.com/gpu-pool", "operator": "Exists"}]]


def test_device_plugin_env_follows_the_upstream_static_manifest(default: ProgramResult) -> None:
    # Upstream's static manifest but for the device list: volume-mounts (a pod sees only its GPUs).
    env = env_of(only_container(default.k8s(*PLUGIN)))
    assert env == {"FAIL_ON_INIT_ERROR": "false", "DEVICE_LIST_STRATEGY": "volume-mounts"}
    assert not default.kubernetes_objects("ConfigMap")


def test_device_plugin_image_is_pinned_and_overridable() -> None:
    from llm_infra import versions

    default_image = only_container(render().k8s(*PLUGIN))["image"]
    assert default_image == versions.NVIDIA_DEVICE_PLUGIN_IMAGE
    assert not default_image.endswith(":latest") and ":" in default_image.rsplit("/", 1)[-1]
    mirrored = render(layer={"device_plugin_image": "registry.example.com/nvidia/k8s-device-plugin:v0.17.0"})
    assert only_container(mirrored.k8s(*PLUGIN))["image"] == "registry.example.com/nvidia/k8s-device-plugin:v0.17.0"


def test_device_plugin_pods_are_cut_off_the_network(default: ProgramResult) -> None:
    ds = default.k8s(*PLUGIN)
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    policies = [p for p in default.kubernetes_objects("NetworkPolicy") if p.k8s_namespace == "kube-system"]
    assert len(policies) == 1
    spec = policies[0].inputs["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    assert not spec.get("ingress") and not spec.get("egress")


def test_device_plugin_is_absent_when_the_cloud_manages_it() -> None:
    result = render(layer={"manages_device_plugin": True})
    assert not result.of_type("llm-infra:index:NvidiaDevicePlugin")
    assert not [r for r in result.kubernetes_objects() if r.k8s_namespace == "kube-system"]
    assert result.outputs["device_plugin_deployed"] is False
    # The rest of the layer is still there.
    assert result.k8s(*DCGM)


def test_device_plugin_is_deployed_where_the_cloud_does_not_manage_it(default: ProgramResult) -> None:
    assert default.outputs["device_plugin_deployed"] is True
    assert len(default.of_type("llm-infra:index:NvidiaDevicePlugin")) == 1


def test_time_slicing_config_map_parses_and_carries_the_replicas(full: ProgramResult) -> None:
    ds = full.k8s(*PLUGIN)
    container = only_container(ds)
    config_file = env_of(container)["CONFIG_FILE"]
    mount = next(m for m in container["volumeMounts"] if config_file.startswith(m["mountPath"] + "/"))
    assert mount["readOnly"] is True
    volume = next(v for v in pod_spec(ds)["volumes"] if v["name"] == mount["name"])
    config_map = full.k8s("ConfigMap", volume["configMap"]["name"], "kube-system")
    config = yaml.safe_load(config_map["data"][config_file.rsplit("/", 1)[-1]])
    assert config == {
        "version": "v1",
        "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}},
    }
    # Still exactly one hostPath: the config arrives through the ConfigMap.
    assert host_paths(ds) == ["/var/lib/kubelet/device-plugins"]


def test_a_new_time_slicing_config_rolls_the_plugin_pods() -> None:
    def annotations(replicas: int) -> dict[str, str]:
        result = render(layer={"device_plugin": DevicePluginConfig(time_slicing_replicas=replicas)})
        return result.k8s(*PLUGIN)["spec"]["template"]["metadata"]["annotations"]

    assert annotations(4) != annotations(8)


@pytest.mark.parametrize("flag", ["manages_device_plugin", "manages_gpu_metrics"])
def test_a_cloud_flag_that_is_not_a_boolean_is_rejected_naming_it(flag: str) -> None:
    # "false" as a string would otherwise read as true and silently drop our device plugin or exporter.
    with pytest.raises(ValueError, match=rf"{flag}: expected true or false, got 'false'"):
        render(layer={flag: "false"})


def test_time_slicing_is_rejected_where_the_cloud_runs_its_own_plugin() -> None:
    with pytest.raises(ValueError, match=r"device_plugin\.time_slicing_replicas: .*got 4"):
        render(layer={"manages_device_plugin": True, "device_plugin": {"time_slicing_replicas": 4}})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"time_slicing_replicas": 1}, r"time_slicing_replicas: expected an integer >= 2 or None, got 1"),
        ({"device_list_strategy": "cdi"}, r"device_list_strategy: expected .*got 'cdi'"),
    ],
)
def test_device_plugin_rejects_bad_args_naming_the_field(args: dict[str, Any], message: str) -> None:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="apiVersion: v1\nkind: Config\n")
        NvidiaDevicePlugin("plugin", {"provider": provider, **args})

    with pytest.raises(ValueError, match=message):
        run_program(program)


# --- namespaces (SECURITY 34, 40) ------------------------------------------------------


def test_tenant_namespaces_enforce_restricted_pod_security(full: ProgramResult) -> None:
    labels = full.k8s("Namespace", "llm-serving")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "latest"
    assert labels["team"] == "llm"


def test_only_gpu_system_namespaces_relax_pod_security(full: ProgramResult) -> None:
    relaxed = {
        ns.k8s_name
        for ns in full.kubernetes_objects("Namespace")
        if ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] != "restricted"
    }
    # gpu-monitoring is the layer's DCGM namespace; gpu-profiling is the test's second exporter.
    assert relaxed == {"gpu-monitoring", "gpu-profiling"}
    assert full.k8s("Namespace", "gpu-monitoring")["metadata"]["labels"]["llm-infra.io/role"] == "gpu-system"


def test_default_deny_selects_every_pod_in_both_directions(full: ProgramResult) -> None:
    for ns in full.kubernetes_objects("Namespace"):
        deny = full.k8s("NetworkPolicy", "default-deny", ns.k8s_name)["spec"]
        assert deny["podSelector"] in ({}, {"matchLabels": {}}), deny
        assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
        assert not deny.get("ingress") and not deny.get("egress")


def test_every_pod_may_reach_dns_in_kube_system_only(full: ProgramResult) -> None:
    dns = full.k8s("NetworkPolicy", "allow-dns-egress", "llm-serving")["spec"]
    assert dns["podSelector"] in ({}, {"matchLabels": {}})
    assert dns["policyTypes"] == ["Egress"]
    assert not dns.get("ingress")
    [rule] = dns["egress"]
    assert rule["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
    assert sorted((p["protocol"], p["port"]) for p in rule["ports"]) == [("TCP", 53), ("UDP", 53)]


def test_quota_is_on_requested_gpus(full: ProgramResult) -> None:
    assert full.k8s("ResourceQuota", "gpu-quota", "llm-serving")["spec"]["hard"] == {"requests.nvidia.com/gpu": "4"}
    # The GPU system namespace reads GPUs through the node and may request none.
    assert full.k8s("ResourceQuota", "gpu-quota", "gpu-monitoring")["spec"]["hard"] == {"requests.nvidia.com/gpu": "0"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"gpu_quota": -1}, r"gpu_quota: expected an integer >= 0, got -1"),
        ({"gpu_quota": "4"}, r"gpu_quota: expected an integer >= 0, got '4'"),
        ({"gpu_quota": 1, "pod_security": "open"}, r"pod_security: expected one of .*got 'open'"),
        (
            {"gpu_quota": 1, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}},
            r"labels\.pod-security\.kubernetes\.io/enforce: expected to be left out",
        ),
    ],
)
def test_tenant_namespace_rejects_bad_args_naming_the_field(args: dict[str, Any], message: str) -> None:
    registered: list[str] = []

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="apiVersion: v1\nkind: Config\n")
        TenantNamespace("tenant", {"provider": provider, **args})

    with pytest.raises(ValueError, match=message):
        run_program(program, on_register=registered.append)
    assert not [r for r in registered if r.startswith(("llm-infra:", "kubernetes:"))]


# --- DCGM exporter ---------------------------------------------------------------------


def test_dcgm_exporter_host_access_is_the_pod_resources_socket_read_only(default: ProgramResult) -> None:
    ds = default.k8s(*DCGM)
    # /dev/null read-only at /var/run/nvidia-container-devices/all: every GPU under the volume-mounts device list.
    assert host_paths(ds) == ["/var/lib/kubelet/pod-resources", "/dev/null"]
    for path in ("/var/lib/kubelet/pod-resources", "/var/run/nvidia-container-devices/all"):
        [mount] = [m for m in only_container(ds)["volumeMounts"] if m["mountPath"] == path]
        assert mount["readOnly"] is True
    envvar = render(layer={"device_plugin": {"device_list_strategy": "envvar"}}).k8s(*DCGM)
    assert host_paths(envvar) == ["/var/lib/kubelet/pod-resources"]
    for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod_spec(ds).get(host_namespace), host_namespace


def test_dcgm_exporter_adds_no_capability_by_default(default: ProgramResult) -> None:
    ds = default.k8s(*DCGM)
    sc = only_container(ds)["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["privileged"] is False
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert only_container(ds)["args"] == ["-f", "/etc/dcgm-exporter/default-counters.csv"]
    assert pod_spec(ds)["automountServiceAccountToken"] is False


def test_dcgm_profiling_metrics_are_an_explicit_opt_in_for_sys_admin(full: ProgramResult) -> None:
    ds = full.k8s("DaemonSet", "dcgm-exporter", "gpu-profiling")
    container = only_container(ds)
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["SYS_ADMIN"]}
    assert container["args"] == ["-f", "/etc/dcgm-exporter/dcp-metrics-included.csv"]
    assert container["securityContext"]["privileged"] is False


def test_dcgm_exporter_runs_on_gpu_nodes_only(default: ProgramResult) -> None:
    ds = default.k8s(*DCGM)
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod_spec(ds)["tolerations"]
    assert _required_node_expressions(ds) == [[{"key": "llm-infra.io/gpu-pool", "operator": "Exists"}]]


def test_dcgm_metrics_service_is_cluster_ip_on_9400_named_metrics(default: ProgramResult) -> None:
    service = default.k8s("Service", "dcgm-exporter", "gpu-monitoring")["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [{"name": "metrics", "port": 9400, "targetPort": "metrics", "protocol": "TCP"}]
    ds = default.k8s(*DCGM)
    assert service["selector"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    assert {"name": "metrics", "containerPort": 9400, "protocol": "TCP"} in only_container(ds)["ports"]


def test_dcgm_service_monitor_scrapes_the_metrics_port(default: ProgramResult) -> None:
    [monitor] = default.kubernetes_objects("ServiceMonitor")
    assert monitor.inputs["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor.k8s_namespace == "gpu-monitoring"
    spec = monitor.inputs["spec"]
    service = default.k8s("Service", "dcgm-exporter", "gpu-monitoring")
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": ["gpu-monitoring"]}
    assert [e["port"] for e in spec["endpoints"]] == ["metrics"]


def test_only_the_monitoring_namespace_may_scrape_dcgm(default: ProgramResult) -> None:
    policy = default.k8s("NetworkPolicy", "dcgm-exporter-allow-scrape", "gpu-monitoring")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9400}]


def test_no_service_monitor_without_monitoring() -> None:
    result = render(layer={"monitoring": False})
    assert not result.kubernetes_objects("ServiceMonitor")
    assert result.k8s(*DCGM)


def test_dcgm_exporter_and_its_namespace_are_optional() -> None:
    result = render(layer={"dcgm_exporter": False})
    assert not result.of_type("llm-infra:index:DcgmExporter")
    assert not result.kubernetes_objects("Namespace")
    assert result.outputs["dcgm_namespace"] is None
    assert result.k8s(*PLUGIN)


def test_dcgm_namespace_output_names_the_exporter_namespace(default: ProgramResult) -> None:
    assert default.outputs["dcgm_namespace"] == "gpu-monitoring"
    renamed = render(layer={"dcgm_namespace": "gpu-system"})
    assert renamed.outputs["dcgm_namespace"] == "gpu-system"
    assert renamed.k8s("DaemonSet", "dcgm-exporter", "gpu-system")


# --- wiring: providers, parents, names ------------------------------------------------


def _component_ancestors(result: ProgramResult, resource: CapturedResource) -> list[str]:
    return [a.type for a in result.ancestors(resource) if a.type.startswith("llm-infra:index:")]


def test_every_kubernetes_resource_uses_the_explicit_provider(full: ProgramResult) -> None:
    [provider] = full.of_type("pulumi:providers:kubernetes")
    kubernetes_resources = [r for r in full.resources if r.type.startswith("kubernetes:")]
    assert len(kubernetes_resources) == len(full.kubernetes_objects()) > 20
    for r in kubernetes_resources:
        assert r.provider is not None, r.name
        # A provider reference is `<urn>::<id>`.
        assert r.provider.rsplit("::", 1)[0] == provider.urn, (r.name, r.provider)


def test_every_kubernetes_resource_has_a_component_ancestor(full: ProgramResult) -> None:
    for r in full.kubernetes_objects():
        assert _component_ancestors(full, r), r.name
    layer = full.one("llm-infra:index:GpuSoftwareLayer", "gpu")
    under_layer = [r for r in full.kubernetes_objects() if layer in list(full.ancestors(r))]
    # Everything but the test's own tenant namespace and profiling exporter is the layer's.
    assert {r.k8s_namespace for r in under_layer} == {"kube-system", "gpu-monitoring", None}


def test_child_names_are_stable(default: ProgramResult) -> None:
    names = {(r.type, r.name) for r in default.resources}
    assert {
        ("llm-infra:index:NvidiaDevicePlugin", "gpu-device-plugin"),
        ("kubernetes:apps/v1:DaemonSet", "gpu-device-plugin-daemonset"),
        ("kubernetes:core/v1:ServiceAccount", "gpu-device-plugin-service-account"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "gpu-device-plugin-network-policy"),
        ("llm-infra:index:TenantNamespace", "gpu-gpu-system"),
        ("kubernetes:core/v1:Namespace", "gpu-gpu-system-namespace"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "gpu-gpu-system-default-deny"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "gpu-gpu-system-allow-dns"),
        ("kubernetes:core/v1:ResourceQuota", "gpu-gpu-system-gpu-quota"),
        ("llm-infra:index:DcgmExporter", "gpu-dcgm-exporter"),
        ("kubernetes:apps/v1:DaemonSet", "gpu-dcgm-exporter-daemonset"),
        ("kubernetes:core/v1:Service", "gpu-dcgm-exporter-service"),
        ("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "gpu-dcgm-exporter-service-monitor"),
    } <= names


def test_every_object_has_an_explicit_name_and_namespace(full: ProgramResult) -> None:
    cluster_scoped = {"Namespace"}
    for r in full.kubernetes_objects():
        assert r.k8s_name, r.name
        assert (r.k8s_namespace is None) == (r.kind in cluster_scoped), r.name


def test_leaf_components_infer_a_multi_language_schema_with_documented_defaults() -> None:
    from pulumi.provider.experimental.analyzer import Analyzer

    analyzed = Analyzer("llm-infra").analyze([NvidiaDevicePlugin, DcgmExporter, TenantNamespace])
    components = analyzed["component_definitions"]
    assert set(components) == {"NvidiaDevicePlugin", "DcgmExporter", "TenantNamespace"}
    for component in components.values():
        assert component.inputs["provider"].ref.endswith("/pulumi:providers:kubernetes"), component.name
        for field, prop in component.inputs.items():
            description = " ".join((prop.description or "").split())
            assert description, (component.name, field)
            if prop.optional:
                last = description.rsplit("Defaults to ", 1)
                assert len(last) == 2 and ". " not in last[1], (component.name, field, description)
        for field, prop in component.outputs.items():
            assert prop.description, (component.name, field)


# --- real schemas and scanners ---------------------------------------------------------


def test_every_manifest_validates_against_kubernetes_1_33(full: ProgramResult) -> None:
    checked = 0
    for r in full.kubernetes_objects():
        if r.kind in CRD_KINDS:
            continue
        kubernetes_validate.validate(r.inputs, "1.33", strict=True)
        checked += 1
    assert checked > 20


def _dump(result: ProgramResult, directory: Path, *, strip_suppressions: bool = False) -> None:
    directory.mkdir()
    for r in result.kubernetes_objects():
        manifest = copy.deepcopy(r.inputs)
        if strip_suppressions:
            annotations = manifest["metadata"].get("annotations") or {}
            for key in [k for k in annotations if k.startswith("checkov.io/")]:
                del annotations[key]
        (directory / f"{r.name}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))


def _checkov(directory: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is missing at {CHECKOV}: run the setup step of .ci/run to create .venv-checkov")
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "kubernetes", "--skip-download", "--quiet",
         "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    assert isinstance(report, dict) and report.get("check_type") == "kubernetes", proc.stdout[:2000]
    return report


def _suppressions(result: ProgramResult) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in result.kubernetes_objects():
        for key, value in (r.inputs["metadata"].get("annotations") or {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = value.partition("=")
                assert len(reason) > 20, (r.name, value)
                out.setdefault(f"{r.kind}.{r.k8s_namespace}.{r.k8s_name}", set()).add(check)
    return out


@pytest.mark.checkov
def test_checkov_finds_no_failed_check(full: ProgramResult, tmp_path: Path) -> None:
    _dump(full, tmp_path / "manifests")
    report = _checkov(tmp_path / "manifests")
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 100


@pytest.mark.checkov
def test_every_checkov_suppression_covers_a_check_that_fires(full: ProgramResult, tmp_path: Path) -> None:
    _dump(full, tmp_path / "bare", strip_suppressions=True)
    report = _checkov(tmp_path / "bare")
    fired: dict[str, set[str]] = {}
    for c in report["results"]["failed_checks"]:
        fired.setdefault(c["resource"], set()).add(c["check_id"])
    assert fired == _suppressions(full)
