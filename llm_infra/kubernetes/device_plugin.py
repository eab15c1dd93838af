"""The NVIDIA device plugin DaemonSet that advertises `nvidia.com/gpu` on GPU nodes.

Deployed only where the cloud does not run it itself (EKS, AKS; GKE manages its own).
It follows NVIDIA's static manifest (`deployments/static/nvidia-device-plugin.yml` of
NVIDIA/k8s-device-plugin) and tightens it: GPU nodes only, its own service account with
no API token, a read-only root filesystem, seccomp, resource bounds and a NetworkPolicy
that cuts it off the network (it speaks to the kubelet over unix sockets only).
"""

import hashlib
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import yaml

from llm_infra import versions
from llm_infra.contract import DEFAULT_GPU_POOL_LABEL
from llm_infra.device_list import DEFAULT_DEVICE_LIST_STRATEGY, DEVICE_LIST_STRATEGIES
from llm_infra.kubernetes.node_agent import gpu_node_daemonset

NAMESPACE = "kube-system"
# Per GPU node; llm_infra.fit subtracts them from the node before placing a model replica.
REQUESTS = {"cpu": "50m", "memory": "64Mi"}
LIMITS = {"cpu": "500m", "memory": "256Mi"}
# Same name as NVIDIA's static manifest: a second, hand-applied copy on the cluster then
# makes `pulumi up` fail loudly instead of two plugins fighting over the kubelet socket.
DAEMONSET_NAME = "nvidia-device-plugin-daemonset"
CONFIG_DIR = "/etc/nvidia-device-plugin"
CONFIG_FILE = f"{CONFIG_DIR}/config.yaml"
DEVICE_PLUGINS_DIR = "/var/lib/kubelet/device-plugins"


class NvidiaDevicePluginArgs(TypedDict):
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; every child uses it (the default provider never is)."""
    image: NotRequired[str]
    """Device plugin image. Defaults to `versions.NVIDIA_DEVICE_PLUGIN_IMAGE` (point it at a mirror for private registries)."""
    gpu_node_label: NotRequired[str]
    """Node label key that only GPU nodes carry; the plugin runs where it exists. Defaults to `llm-infra.io/gpu-pool`."""
    time_slicing_replicas: NotRequired[int | None]
    """Advertise each GPU this many times (CUDA time-slicing, no memory or fault isolation between sharers).
    Defaults to no sharing: one `nvidia.com/gpu` per physical GPU."""
    device_list_strategy: NotRequired[str]
    """How allocated GPUs reach the container runtime: `volume-mounts` or `envvar`. `volume-mounts` stops a
    pod from claiming GPUs it was not allocated by setting `NVIDIA_VISIBLE_DEVICES` (CUDA images set it to
    `all`); every GPU node's NVIDIA container toolkit must carry `NODE_RUNTIME_SETTINGS` (the EKS node pools
    set them at boot). `envvar` is the upstream default that stock node images accept, and lets any pod on
    a GPU node see every GPU. Defaults to `volume-mounts`."""


class NvidiaDevicePlugin(pulumi.ComponentResource):
    """The NVIDIA device plugin on GPU nodes: node-critical, unprivileged, host access to the device-plugin socket dir only."""

    daemonset_name: pulumi.Output[str]
    """Name of the DaemonSet in `kube-system`."""
    namespace: pulumi.Output[str]
    """Namespace the plugin runs in (`kube-system`)."""
    time_slicing_replicas: pulumi.Output[int | None]
    """How many times each GPU is advertised, or None without time-slicing."""

    def __init__(
        self,
        name: str,
        args: NvidiaDevicePluginArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        replicas = args.get("time_slicing_replicas")
        if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 2):
            raise ValueError(f"time_slicing_replicas: expected an integer >= 2 or None, got {replicas!r}")
        strategy = args.get("device_list_strategy", DEFAULT_DEVICE_LIST_STRATEGY)
        if strategy not in DEVICE_LIST_STRATEGIES:
            raise ValueError(f"device_list_strategy: expected one of {list(DEVICE_LIST_STRATEGIES)}, got {strategy!r}")
        gpu_node_label = args.get("gpu_node_label", DEFAULT_GPU_POOL_LABEL)
        if not gpu_node_label:
            raise ValueError(f"gpu_node_label: expected a node label key, got {gpu_node_label!r}")

        super().__init__("llm-infra:index:NvidiaDevicePlugin", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args["provider"])
        labels = {
            "app.kubernetes.io/name": "nvidia-device-plugin",
            "app.kubernetes.io/part-of": "llm-infra",
        }
        selector = {"app.kubernetes.io/name": "nvidia-device-plugin"}

        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="nvidia-device-plugin", namespace=NAMESPACE, labels=labels),
            # The plugin never calls the API server.
            automount_service_account_token=False,
            opts=child,
        )

        env = [
            # As upstream: on a GPU node whose driver is not up yet the plugin waits instead of crash-looping.
            k8s.core.v1.EnvVarArgs(name="FAIL_ON_INIT_ERROR", value="false"),
            k8s.core.v1.EnvVarArgs(name="DEVICE_LIST_STRATEGY", value=strategy),
        ]
        volumes = [
            k8s.core.v1.VolumeArgs(
                name="kubelet-device-plugins-dir",
                host_path=k8s.core.v1.HostPathVolumeSourceArgs(path=DEVICE_PLUGINS_DIR, type="Directory"),
            )
        ]
        mounts = [k8s.core.v1.VolumeMountArgs(name="kubelet-device-plugins-dir", mount_path=DEVICE_PLUGINS_DIR)]
        pod_annotations: dict[str, str] = {}
        depends_on: list[pulumi.Resource] = [service_account]

        if replicas is not None:
            config_yaml = time_slicing_config(replicas)
            config_map = k8s.core.v1.ConfigMap(
                f"{name}-config",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="nvidia-device-plugin-config", namespace=NAMESPACE, labels=labels),
                data={"config.yaml": config_yaml},
                opts=child,
            )
            depends_on.append(config_map)
            env.append(k8s.core.v1.EnvVarArgs(name="CONFIG_FILE", value=CONFIG_FILE))
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name="config",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name="nvidia-device-plugin-config"),
                )
            )
            mounts.append(k8s.core.v1.VolumeMountArgs(name="config", mount_path=CONFIG_DIR, read_only=True))
            # The plugin reads its config once at start: a new config must roll the pods.
            pod_annotations["llm-infra.io/config-sha256"] = hashlib.sha256(config_yaml.encode()).hexdigest()

        container = k8s.core.v1.ContainerArgs(
            name="nvidia-device-plugin-ctr",
            image=args.get("image", versions.NVIDIA_DEVICE_PLUGIN_IMAGE),
            image_pull_policy="IfNotPresent",
            env=env,
            security_context=k8s.core.v1.SecurityContextArgs(
                privileged=False,
                allow_privilege_escalation=False,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                read_only_root_filesystem=True,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            resources=k8s.core.v1.ResourceRequirementsArgs(requests=dict(REQUESTS), limits=dict(LIMITS)),
            volume_mounts=mounts,
        )

        daemonset = gpu_node_daemonset(
            f"{name}-daemonset",
            name=DAEMONSET_NAME,
            namespace=NAMESPACE,
            labels=labels,
            selector=selector,
            checkov_reasons={
                "CKV_K8S_8": "the plugin serves no health endpoint; it re-registers with the kubelet itself "
                "and exits when its socket goes away",
                "CKV_K8S_9": "the plugin takes no traffic; readiness is its registration with the kubelet",
                "CKV_K8S_15": "the image is a pinned release tag; IfNotPresent lets a node-critical pod "
                "restart during a registry outage",
                "CKV_K8S_23": "must run as root to create its socket in the root-owned kubelet device-plugins "
                "dir and dial kubelet.sock; it has no capabilities and cannot escalate",
                "CKV_K8S_40": "runs as root (uid 0) for the kubelet device-plugins dir; see CKV_K8S_23",
                "CKV_K8S_43": "pinned to an immutable release tag in llm_infra.versions; override image with "
                "a digest where the registry mirror publishes one",
            },
            service_account_name="nvidia-device-plugin",
            gpu_node_label=gpu_node_label,
            container=container,
            volumes=volumes,
            pod_annotations=pod_annotations,
            priority_class_name="system-node-critical",
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends_on)),
        )

        # Deny all traffic to and from the plugin pods: their only peers are unix sockets on the node.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="nvidia-device-plugin-deny-all", namespace=NAMESPACE, labels=labels),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                policy_types=["Ingress", "Egress"],
            ),
            opts=child,
        )

        self.daemonset_name = daemonset.metadata.name
        self.namespace = pulumi.Output.from_input(NAMESPACE)
        self.time_slicing_replicas = pulumi.Output.from_input(replicas)
        self.register_outputs(
            {
                "daemonset_name": self.daemonset_name,
                "namespace": self.namespace,
                "time_slicing_replicas": self.time_slicing_replicas,
            }
        )


def time_slicing_config(replicas: int) -> str:
    """The plugin's config file (format `version: v1`) that advertises each GPU `replicas` times."""
    return yaml.safe_dump(
        {
            "version": "v1",
            "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": replicas}]}},
        },
        sort_keys=False,
    )
