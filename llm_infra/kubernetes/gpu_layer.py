"""The GPU software on a cluster: the NVIDIA device plugin where the cloud lacks one, and GPU metrics.

Takes the cluster's provider and three facts from its `ClusterContract`, nothing else
about the cloud: whether the cloud already runs the device plugin (GKE does), whether it
collects GPU metrics itself, and which node label marks GPU nodes.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, NotRequired, TypeAlias, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from llm_infra.config import ConfigError, DevicePluginConfig, schema_type, validate_spec
from llm_infra.contract import DEFAULT_GPU_POOL_LABEL
from llm_infra.kubernetes.dcgm_exporter import DcgmExporter, DcgmExporterArgs
from llm_infra.kubernetes.device_plugin import DEFAULT_DEVICE_LIST_STRATEGY, NvidiaDevicePlugin, NvidiaDevicePluginArgs
from llm_infra.kubernetes.tenant_namespace import TenantNamespace
from llm_infra.ordering import waits_like_component

# Namespace of the DCGM exporter unless `dcgm_namespace` says otherwise (Pod Security privileged).
DEFAULT_DCGM_NAMESPACE = "gpu-monitoring"

if TYPE_CHECKING:
    # What type checkers and IDEs see: the fields written in source (config/specs.py), or the validated model.
    from llm_infra.config.specs import DevicePluginConfigFields

    DevicePluginSpec: TypeAlias = DevicePluginConfigFields | DevicePluginConfig
else:  # the schema type other Pulumi languages see, built from the model
    DevicePluginSpec = schema_type(DevicePluginConfig)


class GpuSoftwareLayerArgs(TypedDict):
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; the default provider is never used."""
    manages_device_plugin: NotRequired[bool]
    """Whether the cloud runs the NVIDIA device plugin itself (GKE); then ours is not deployed. Defaults to false."""
    manages_gpu_metrics: NotRequired[bool]
    """Whether the cloud collects the GPUs' DCGM metrics itself (GKE managed DCGM); then our exporter is not
    deployed. Defaults to false."""
    gpu_node_label: NotRequired[str]
    """Node label that marks GPU nodes (its value is the pool's name). Defaults to `llm-infra.io/gpu-pool`."""
    device_plugin: NotRequired[DevicePluginSpec]
    """Device plugin settings (time-slicing, device list strategy). Defaults to one `nvidia.com/gpu` per physical
    GPU, handed to containers as `volume-mounts`."""
    dcgm_exporter: NotRequired[bool]
    """Run the DCGM exporter (and its namespace) on GPU nodes. Defaults to true."""
    monitoring: NotRequired[bool]
    """The Prometheus Operator is present: create the exporter's ServiceMonitor. Defaults to true."""
    dcgm_namespace: NotRequired[str]
    """Namespace for the DCGM exporter, created with Pod Security `privileged` (it needs a hostPath).
    Defaults to `gpu-monitoring`."""
    monitoring_namespace: NotRequired[str]
    """Namespace of Prometheus, the only one allowed to scrape the exporter. Defaults to `monitoring`."""
    service_monitor_labels: NotRequired[Mapping[str, str]]
    """Extra labels on the ServiceMonitor for Prometheus' `serviceMonitorSelector`. Defaults to none."""
    device_plugin_image: NotRequired[str]
    """Device plugin image. Defaults to `versions.NVIDIA_DEVICE_PLUGIN_IMAGE`."""
    dcgm_exporter_image: NotRequired[str]
    """DCGM exporter image. Defaults to `versions.DCGM_EXPORTER_IMAGE`."""
    tls_issuer: NotRequired[str | None]
    """A cert-manager ClusterIssuer: the DCGM exporter serves its metrics over TLS with a certificate from it.
    Defaults to none (plain HTTP)."""


class GpuSoftwareLayer(pulumi.ComponentResource):
    """NVIDIA device plugin (unless the cloud manages it) and the DCGM exporter in its own namespace."""

    device_plugin_deployed: pulumi.Output[bool]
    """True where llm-infra runs the device plugin; false where the cloud manages it."""
    dcgm_namespace: pulumi.Output[str | None]
    """Namespace of the DCGM exporter, or None when the exporter is off."""

    def __init__(
        self,
        name: str,
        args: GpuSoftwareLayerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        provider = args.get("provider")
        if not isinstance(provider, k8s.Provider):
            raise ConfigError(f"provider: expected an explicit pulumi_kubernetes.Provider, got {type(provider).__name__}")
        plugin_config = validate_spec(DevicePluginConfig, args.get("device_plugin", {}), field="device_plugin")
        flags = {k: args.get(k, False) for k in ("manages_device_plugin", "manages_gpu_metrics")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise ConfigError(f"{key}: expected true or false, got {value!r}")
        manages_device_plugin = flags["manages_device_plugin"]
        gpu_node_label = args.get("gpu_node_label", DEFAULT_GPU_POOL_LABEL)
        if manages_device_plugin and plugin_config.device_list_strategy is not None:
            raise ConfigError(
                "device_plugin.device_list_strategy: expected none on a cluster whose cloud manages the device "
                f"plugin, got {plugin_config.device_list_strategy}"
            )
        # Where the cloud runs its plugin, the exporter asks for the GPUs as the plugin's default would.
        strategy = plugin_config.device_list_strategy or DEFAULT_DEVICE_LIST_STRATEGY
        if manages_device_plugin and plugin_config.time_slicing_replicas is not None:
            # The cloud's own plugin would silently ignore our time-slicing: say so before anything is built.
            raise ConfigError(
                "device_plugin.time_slicing_replicas: expected none on a cluster whose cloud manages the device "
                f"plugin (configure sharing through the cloud's GPU node pool), got {plugin_config.time_slicing_replicas}"
            )

        super().__init__("llm-infra:index:GpuSoftwareLayer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        deploy_plugin = not manages_device_plugin
        if deploy_plugin:
            plugin_args: NvidiaDevicePluginArgs = {
                "provider": provider,
                "gpu_node_label": gpu_node_label,
                "time_slicing_replicas": plugin_config.time_slicing_replicas,
                "device_list_strategy": strategy,
            }
            if "device_plugin_image" in args:
                plugin_args["image"] = args["device_plugin_image"]
            NvidiaDevicePlugin(f"{name}-device-plugin", plugin_args, opts=child)

        dcgm_namespace: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        # Where the cloud collects DCGM metrics itself, a second exporter would only compete for the GPUs' counters.
        if args.get("dcgm_exporter", True) and not flags["manages_gpu_metrics"]:
            namespace = TenantNamespace(
                f"{name}-gpu-system",
                {
                    "provider": provider,
                    "namespace": args.get("dcgm_namespace", DEFAULT_DCGM_NAMESPACE),
                    # Nothing here schedules GPUs; the exporter reads them through the node, not a request.
                    "gpu_quota": 0,
                    "pod_security": "privileged",
                    "labels": {"llm-infra.io/role": "gpu-system"},
                },
                opts=child,
            )
            exporter_args: DcgmExporterArgs = {
                "provider": provider,
                "namespace": namespace.namespace,
                "gpu_node_label": gpu_node_label,
                "service_monitor": bool(args.get("monitoring", True)),
                "metrics_client_namespaces": [args.get("monitoring_namespace", "monitoring")],
                "device_list_strategy": strategy,
            }
            if "service_monitor_labels" in args:
                exporter_args["service_monitor_labels"] = args["service_monitor_labels"]
            if "dcgm_exporter_image" in args:
                exporter_args["image"] = args["dcgm_exporter_image"]
            if args.get("tls_issuer"):
                exporter_args["tls_issuer"] = args["tls_issuer"]
            exporter = DcgmExporter(
                f"{name}-dcgm-exporter",
                exporter_args,
                opts=waits_like_component(pulumi.ResourceOptions(parent=self), opts, namespace),
            )
            dcgm_namespace = exporter.namespace

        self.device_plugin_deployed = pulumi.Output.from_input(deploy_plugin)
        self.dcgm_namespace = dcgm_namespace
        self.register_outputs(
            {"device_plugin_deployed": self.device_plugin_deployed, "dcgm_namespace": self.dcgm_namespace}
        )
