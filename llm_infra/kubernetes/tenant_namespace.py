"""A namespace that is locked down before anything runs in it.

Pod Security Admission labels, a default-deny NetworkPolicy for every pod in both
directions, DNS egress to kube-system (the one thing every pod needs), and a quota on
the GPUs the namespace may request. Workloads open further paths with their own
NetworkPolicies.
"""

from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

# Plain strings rather than a Literal: Pulumi's schema inference (multi-language use) reads `str` only.
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")

_PSA_MODES = ("enforce", "audit", "warn")
_RESERVED_LABEL_PREFIXES = ("pod-security.kubernetes.io/", "kubernetes.io/metadata.name")


class TenantNamespaceArgs(TypedDict):
    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; every child uses it (the default provider never is)."""
    gpu_quota: int
    """Most `nvidia.com/gpu` that all pods of the namespace may request together (0 forbids GPUs)."""
    namespace: NotRequired[str]
    """Name of the Kubernetes namespace. Defaults to the component's name."""
    labels: NotRequired[Mapping[str, str]]
    """Extra labels on the namespace (Pod Security labels are set by `pod_security`). Defaults to none."""
    pod_security: NotRequired[str]
    """Pod Security Admission level (`restricted`, `baseline` or `privileged`), enforced, audited and warned (version `latest`). Only the GPU system
    namespace relaxes it: the DCGM exporter mounts a hostPath (the kubelet pod-resources socket) and runs as
    root, which `baseline` forbids as well, so that namespace uses `privileged`. Defaults to `restricted`."""
    pod_security_warn: NotRequired[str]
    """Pod Security level warned and audited, when stricter than the enforced one (e.g. enforce `baseline`,
    warn `restricted` for third-party charts). Defaults to the enforced level."""


class TenantNamespace(pulumi.ComponentResource):
    """A namespace with Pod Security Admission labels, default-deny networking, DNS egress and a GPU quota."""

    namespace: pulumi.Output[str]
    """Name of the namespace."""
    pod_security: pulumi.Output[str]
    """The enforced Pod Security Admission level."""

    def __init__(
        self,
        name: str,
        args: TenantNamespaceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        gpu_quota = args.get("gpu_quota")
        if isinstance(gpu_quota, bool) or not isinstance(gpu_quota, int) or gpu_quota < 0:
            raise ValueError(f"gpu_quota: expected an integer >= 0, got {gpu_quota!r}")
        level = args.get("pod_security", "restricted")
        if level not in POD_SECURITY_LEVELS:
            raise ValueError(f"pod_security: expected one of {list(POD_SECURITY_LEVELS)}, got {level!r}")
        ns_name = args.get("namespace", name)
        if not isinstance(ns_name, str) or not ns_name:
            raise ValueError(f"namespace: expected a namespace name, got {ns_name!r}")
        extra = dict(args.get("labels") or {})
        reserved = sorted(k for k in extra if k.startswith(_RESERVED_LABEL_PREFIXES))
        if reserved:
            raise ValueError(f"labels.{reserved[0]}: expected to be left out (set by the component), got {extra[reserved[0]]!r}")

        super().__init__("llm-infra:index:TenantNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args["provider"])

        labels = {"app.kubernetes.io/part-of": "llm-infra", **extra}
        warn = args.get("pod_security_warn", level)
        if warn not in POD_SECURITY_LEVELS:
            raise ValueError(f"pod_security_warn: expected one of {list(POD_SECURITY_LEVELS)}, got {warn!r}")
        for mode in _PSA_MODES:
            labels[f"pod-security.kubernetes.io/{mode}"] = level if mode == "enforce" else warn
            labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ns_name, labels=labels),
            opts=child,
        )
        in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[namespace]))
        part_of = {"app.kubernetes.io/part-of": "llm-infra"}

        # An empty podSelector selects every pod; listing both types with no rules denies both directions.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=ns_name, labels=part_of),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Ingress", "Egress"],
            ),
            opts=in_ns,
        )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-dns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="allow-dns-egress", namespace=ns_name, labels=part_of),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                                )
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=53),
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=53),
                        ],
                    )
                ],
            ),
            opts=in_ns,
        )

        k8s.core.v1.ResourceQuota(
            f"{name}-gpu-quota",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="gpu-quota", namespace=ns_name, labels=part_of),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(hard={"requests.nvidia.com/gpu": str(gpu_quota)}),
            opts=in_ns,
        )

        self.namespace = namespace.metadata.name
        self.pod_security = pulumi.Output.from_input(level)
        self.register_outputs({"namespace": self.namespace, "pod_security": self.pod_security})
