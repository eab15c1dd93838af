"""The DaemonSet shape shared by the agents that run on every GPU node (device plugin, DCGM exporter).

Both run as root for a kubelet socket (and nothing else of the host), without an API
token, only on nodes that carry the GPU pool label, tolerating the GPU taint, under the
runtime's default seccomp profile, and roll one node at a time.
"""

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from llm_infra.checkov import checkov_skips
from llm_infra.contract import GPU_TAINT_KEY


def gpu_node_affinity(label_key: str) -> k8s.core.v1.AffinityArgs:
    """Required node affinity: only nodes that carry `label_key` (any value)."""
    return k8s.core.v1.AffinityArgs(
        node_affinity=k8s.core.v1.NodeAffinityArgs(
            required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                node_selector_terms=[
                    k8s.core.v1.NodeSelectorTermArgs(
                        match_expressions=[k8s.core.v1.NodeSelectorRequirementArgs(key=label_key, operator="Exists")]
                    )
                ]
            )
        )
    )


def gpu_node_daemonset(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    checkov_reasons: dict[str, str],
    service_account_name: str,
    gpu_node_label: str,
    container: k8s.core.v1.ContainerArgs,
    volumes: Sequence[k8s.core.v1.VolumeArgs],
    opts: pulumi.ResourceOptions,
    pod_annotations: Mapping[str, str] | None = None,
    priority_class_name: str | None = None,
) -> k8s.apps.v1.DaemonSet:
    """A DaemonSet of `container` on every GPU node, as root with no API token (see the module docstring)."""
    return k8s.apps.v1.DaemonSet(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels=dict(labels), annotations=checkov_skips(checkov_reasons)
        ),
        spec=k8s.apps.v1.DaemonSetSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(selector)),
            update_strategy=k8s.apps.v1.DaemonSetUpdateStrategyArgs(type="RollingUpdate"),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=dict(labels), annotations=dict(pod_annotations or {}) or None),
                spec=k8s.core.v1.PodSpecArgs(
                    service_account_name=service_account_name,
                    automount_service_account_token=False,
                    priority_class_name=priority_class_name,
                    affinity=gpu_node_affinity(gpu_node_label),
                    tolerations=[
                        k8s.core.v1.TolerationArgs(key=GPU_TAINT_KEY, operator="Exists", effect="NoSchedule"),
                    ],
                    security_context=k8s.core.v1.PodSecurityContextArgs(
                        run_as_user=0,
                        run_as_group=0,
                        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                    ),
                    containers=[container],
                    volumes=list(volumes),
                ),
            ),
        ),
        opts=opts,
    )
