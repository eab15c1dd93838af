"""NVIDIA DCGM exporter: per-GPU metrics (utilisation, memory, power, XID errors) for Prometheus.

A DaemonSet on GPU nodes, a ClusterIP Service on port 9400 (`metrics`), a NetworkPolicy
that lets only the monitoring namespaces scrape it and, with the Prometheus Operator, a
ServiceMonitor. Follows NVIDIA/dcgm-exporter's chart but drops what it does not need:
no SYS_ADMIN unless profiling metrics are asked for, no API token, a read-only root
filesystem, and the kubelet pod-resources socket (read-only) as its only host access,
which is what attributes each GPU's metrics to the pod that holds it.
"""

from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s


from llm_infra import versions
from llm_infra.contract import DEFAULT_GPU_POOL_LABEL
from llm_infra.device_list import DEFAULT_DEVICE_LIST_STRATEGY, DEVICE_LIST_STRATEGIES, VOLUME_MOUNTS_ROOT
from llm_infra.kubernetes.cert_manager import certificate_spec
from llm_infra.kubernetes.node_agent import gpu_node_daemonset
from llm_infra.ordering import waits_like_component

METRICS_PORT = 9400
POD_RESOURCES_DIR = "/var/lib/kubelet/pod-resources"
# Per GPU node; llm_infra.fit subtracts them from the node before placing a model replica.
REQUESTS = {"cpu": "100m", "memory": "512Mi"}
LIMITS = {"cpu": "1", "memory": "1Gi"}
DEFAULT_COUNTERS = "/etc/dcgm-exporter/default-counters.csv"
# TLS on the metrics port (issue 17): the pinned exporter serves through prometheus/exporter-toolkit, which reads
# a web config named by DCGM_EXPORTER_WEB_CONFIG_FILE (pkg/cmd/app.go@3.3.9-3.6.1:186-189, server.go:41-45,84;
# exporter-toolkit web/tls_config.go@v0.11.0:40-58) and re-reads it and the key pair on every handshake
# (tls_config.go@v0.11.0:361-363), so cert-manager's renewals need no restart.
TLS_SECRET = "dcgm-exporter-tls"
TLS_DIR = "/etc/dcgm-exporter/tls"
WEB_CONFIG_DIR = "/etc/dcgm-exporter/web"
WEB_CONFIG_FILE = "web-config.yml"
WEB_CONFIG_ENV = "DCGM_EXPORTER_WEB_CONFIG_FILE"


def web_config() -> str:
    """The exporter-toolkit web config: TLS 1.2 or later with the cert-manager key pair mounted at TLS_DIR."""
    return (f"tls_server_config:\n  cert_file: {TLS_DIR}/tls.crt\n  key_file: {TLS_DIR}/tls.key\n"
            "  min_version: TLS12\n")


def service_dns_names(namespace: str) -> list[str]:
    """The names Prometheus may reach the exporter's Service by (the certificate carries them)."""
    return [f"dcgm-exporter.{namespace}.svc", f"dcgm-exporter.{namespace}.svc.cluster.local"]
PROFILING_COUNTERS = "/etc/dcgm-exporter/dcp-metrics-included.csv"


class DcgmExporterArgs(TypedDict):
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; every child uses it (the default provider never is)."""
    namespace: NotRequired[pulumi.Input[str]]
    """Namespace to run in; it must allow a hostPath and a root container (Pod Security `privileged`).
    Defaults to `gpu-monitoring`."""
    image: NotRequired[str]
    """DCGM exporter image. Defaults to `versions.DCGM_EXPORTER_IMAGE` (point it at a mirror for private registries)."""
    gpu_node_label: NotRequired[str]
    """Node label key that only GPU nodes carry; the exporter runs where it exists. Defaults to `llm-infra.io/gpu-pool`."""
    service_monitor: NotRequired[bool]
    """Create a Prometheus Operator ServiceMonitor (needs its CRD on the cluster). Defaults to true."""
    service_monitor_labels: NotRequired[Mapping[str, str]]
    """Extra labels on the ServiceMonitor, to match Prometheus' `serviceMonitorSelector`
    (kube-prometheus-stack selects `release: <its release>`). Defaults to none."""
    scrape_interval: NotRequired[str]
    """How often Prometheus scrapes the exporter. Defaults to `15s`."""
    metrics_client_namespaces: NotRequired[Sequence[str]]
    """Namespaces whose pods may connect to port 9400 (the NetworkPolicy). Defaults to `["monitoring"]`."""
    device_list_strategy: NotRequired[str]
    """The device plugin's device list strategy on these nodes. With `volume-mounts` the NVIDIA runtime
    ignores the image's `NVIDIA_VISIBLE_DEVICES=all` in an unprivileged container, so the exporter asks
    for every GPU the same way the plugin allocates them: /dev/null mounted read-only at
    `/var/run/nvidia-container-devices/all` (a hostPath that Pod Security `baseline` forbids in every
    other namespace). Defaults to `volume-mounts`."""
    tls_issuer: NotRequired[str | None]
    """A cert-manager ClusterIssuer: the exporter serves its metrics over TLS with a certificate from it, and the
    ServiceMonitor scrapes https verified against its CA. Defaults to none: plain HTTP (a stack with
    `tls.enabled: false`)."""
    profiling_metrics: NotRequired[bool]
    """Collect DCGM profiling (DCP) metrics such as tensor-core and SM activity. DCGM reads them only with the
    SYS_ADMIN capability, so this adds SYS_ADMIN to the container. Defaults to false: device metrics only,
    no added capabilities."""


class DcgmExporter(pulumi.ComponentResource):
    """DCGM exporter on GPU nodes with a ClusterIP metrics Service, a scrape-only NetworkPolicy and a ServiceMonitor."""

    namespace: pulumi.Output[str]
    """Namespace the exporter runs in."""
    service_name: pulumi.Output[str]
    """Name of the ClusterIP Service that serves `/metrics` on port 9400 (`metrics`)."""
    daemonset_name: pulumi.Output[str]
    """Name of the DaemonSet."""

    def __init__(
        self,
        name: str,
        args: DcgmExporterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        gpu_node_label = args.get("gpu_node_label", DEFAULT_GPU_POOL_LABEL)
        if not gpu_node_label:
            raise ValueError(f"gpu_node_label: expected a node label key, got {gpu_node_label!r}")
        clients = list(args.get("metrics_client_namespaces", ["monitoring"]))
        if isinstance(args.get("metrics_client_namespaces"), str) or not all(isinstance(c, str) and c for c in clients):
            raise ValueError(
                f"metrics_client_namespaces: expected a list of namespace names, got {args.get('metrics_client_namespaces')!r}"
            )
        profiling = bool(args.get("profiling_metrics", False))
        strategy = args.get("device_list_strategy", DEFAULT_DEVICE_LIST_STRATEGY)
        if strategy not in DEVICE_LIST_STRATEGIES:
            raise ValueError(f"device_list_strategy: expected one of {list(DEVICE_LIST_STRATEGIES)}, got {strategy!r}")
        all_gpus = strategy == "volume-mounts"

        super().__init__("llm-infra:index:DcgmExporter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args["provider"])
        ns = args.get("namespace", "gpu-monitoring")
        selector = {"app.kubernetes.io/name": "dcgm-exporter"}
        labels = {**selector, "app.kubernetes.io/part-of": "llm-infra"}

        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="dcgm-exporter", namespace=ns, labels=labels),
            # Pod attribution reads the kubelet's pod-resources socket, not the API server.
            automount_service_account_token=False,
            opts=child,
        )

        skips = {
            "CKV_K8S_15": "the image is a pinned release tag; IfNotPresent keeps the exporter restartable during "
            "a registry outage",
            "CKV_K8S_23": "runs as root to dial the root-only kubelet pod-resources socket for pod attribution; "
            "no privilege escalation and all other capabilities dropped",
            "CKV_K8S_40": "runs as root (uid 0) for the kubelet pod-resources socket; see CKV_K8S_23",
            "CKV_K8S_43": "pinned to an immutable release tag in llm_infra.versions; override image with a digest "
            "where the registry mirror publishes one",
        }
        capabilities = k8s.core.v1.CapabilitiesArgs(drop=["ALL"])
        counters = DEFAULT_COUNTERS
        if profiling:
            capabilities = k8s.core.v1.CapabilitiesArgs(drop=["ALL"], add=["SYS_ADMIN"])
            counters = PROFILING_COUNTERS
            reason = "profiling_metrics was asked for: DCGM reads profiling counters only with SYS_ADMIN"
            skips.update({"CKV_K8S_25": reason, "CKV_K8S_39": reason})

        issuer = args.get("tls_issuer")
        tls_env = [k8s.core.v1.EnvVarArgs(name=WEB_CONFIG_ENV, value=f"{WEB_CONFIG_DIR}/{WEB_CONFIG_FILE}")] if issuer else []
        tls_mounts = [k8s.core.v1.VolumeMountArgs(name="tls", mount_path=TLS_DIR, read_only=True),
                      k8s.core.v1.VolumeMountArgs(name="web-config", mount_path=WEB_CONFIG_DIR, read_only=True)] \
            if issuer else []
        tls_volumes = [
            k8s.core.v1.VolumeArgs(name="tls", secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name=TLS_SECRET, default_mode=0o440)),
            k8s.core.v1.VolumeArgs(name="web-config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                name="dcgm-exporter-web-config")),
        ] if issuer else []
        tls_ready: list[pulumi.Resource] = []
        if issuer:
            tls_ready.append(k8s.core.v1.ConfigMap(
                f"{name}-web-config",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="dcgm-exporter-web-config", namespace=ns, labels=labels),
                data={WEB_CONFIG_FILE: web_config()}, opts=child))
            tls_ready.append(k8s.apiextensions.CustomResource(
                f"{name}-certificate", api_version="cert-manager.io/v1", kind="Certificate",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=TLS_SECRET, namespace=ns, labels=labels),
                spec=pulumi.Output.from_input(ns).apply(
                    lambda n: certificate_spec(TLS_SECRET, service_dns_names(n), issuer)),
                # After whatever the exporter waits for (cert-manager's release and the issuer).
                opts=waits_like_component(child, opts)))

        probe = k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port=METRICS_PORT,
                                                   scheme="HTTPS" if issuer else "HTTP"),
            initial_delay_seconds=45,
            period_seconds=10,
            timeout_seconds=5,
        )
        container = k8s.core.v1.ContainerArgs(
            name="exporter",
            image=args.get("image", versions.DCGM_EXPORTER_IMAGE),
            image_pull_policy="IfNotPresent",
            # Run the binary directly: the image's entrypoint script rewrites /etc/ld.so.cache and the binary's
            # file capabilities, which a read-only root filesystem forbids. As root the process holds whatever
            # capabilities the container grants, so the setcap step is not needed.
            command=["/usr/bin/dcgm-exporter"],
            args=["-f", counters],
            env=[
                k8s.core.v1.EnvVarArgs(name="DCGM_EXPORTER_KUBERNETES", value="true"),
                k8s.core.v1.EnvVarArgs(name="DCGM_EXPORTER_LISTEN", value=f":{METRICS_PORT}"),
                k8s.core.v1.EnvVarArgs(
                    name="NODE_NAME",
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="spec.nodeName")
                    ),
                ),
                *tls_env,
            ],
            ports=[k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT, protocol="TCP")],
            security_context=k8s.core.v1.SecurityContextArgs(
                privileged=False,
                allow_privilege_escalation=False,
                capabilities=capabilities,
                read_only_root_filesystem=True,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            resources=k8s.core.v1.ResourceRequirementsArgs(requests=dict(REQUESTS), limits=dict(LIMITS)),
            liveness_probe=probe,
            readiness_probe=probe,
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="pod-gpu-resources", mount_path=POD_RESOURCES_DIR, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                *([k8s.core.v1.VolumeMountArgs(name="all-gpus", mount_path=f"{VOLUME_MOUNTS_ROOT}/all", read_only=True)]
                  if all_gpus else []),
                *tls_mounts,
            ],
        )

        daemonset = gpu_node_daemonset(
            f"{name}-daemonset",
            name="dcgm-exporter",
            namespace=ns,
            labels=labels,
            selector=selector,
            checkov_reasons=skips,
            service_account_name="dcgm-exporter",
            gpu_node_label=gpu_node_label,
            container=container,
            volumes=[
                k8s.core.v1.VolumeArgs(
                    name="pod-gpu-resources",
                    host_path=k8s.core.v1.HostPathVolumeSourceArgs(path=POD_RESOURCES_DIR, type="Directory"),
                ),
                k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
                *([k8s.core.v1.VolumeArgs(
                    name="all-gpus",
                    host_path=k8s.core.v1.HostPathVolumeSourceArgs(path="/dev/null", type="CharDevice"),
                )] if all_gpus else []),
                *tls_volumes,
            ],
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[service_account, *tls_ready])),
        )

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="dcgm-exporter", namespace=ns, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(name="metrics", port=METRICS_PORT, target_port="metrics", protocol="TCP")
                ],
            ),
            opts=child,
        )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="dcgm-exporter-allow-scrape", namespace=ns, labels=labels),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": client}
                                )
                            )
                            for client in clients
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=METRICS_PORT)],
                    )
                ],
            ),
            opts=child,
        )

        if args.get("service_monitor", True):
            k8s.apiextensions.CustomResource(
                f"{name}-service-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="dcgm-exporter",
                    namespace=ns,
                    labels={**labels, **dict(args.get("service_monitor_labels") or {})},
                    # Plain HTTP only where the stack takes the named opt-out (llm_infra.policies.tls reads it).
                    annotations=None if issuer else {"llm-infra.io/tls": "disabled"},
                ),
                spec={
                    "selector": {"matchLabels": selector},
                    "namespaceSelector": {"matchNames": [ns]},
                    "endpoints": [{
                        "port": "metrics", "path": "/metrics", "interval": args.get("scrape_interval", "15s"),
                        # Verified against the CA that signed the exporter's certificate, by its Service name.
                        **({"scheme": "https", "tlsConfig": pulumi.Output.from_input(ns).apply(lambda n: {
                            "ca": {"secret": {"name": TLS_SECRET, "key": "ca.crt"}},
                            "serverName": service_dns_names(n)[0]})} if issuer else {}),
                    }],
                },
                # Also after whatever the exporter waits for (the Prometheus Operator's CRDs).
                opts=waits_like_component(child, opts, service),
            )

        self.namespace = pulumi.Output.from_input(ns)
        self.service_name = service.metadata.name
        self.daemonset_name = daemonset.metadata.name
        self.register_outputs(
            {"namespace": self.namespace, "service_name": self.service_name, "daemonset_name": self.daemonset_name}
        )
