"""ExistingCluster: the cluster contract for a GPU cluster that llm-infra did not create.

The user brings a kubeconfig (as a Pulumi secret), an encrypted StorageClass and, per
model, the service-account annotations that bind it to a cloud identity able to read its
weights. Nothing cloud-side is created; the Kubernetes layer runs on top unchanged.

A Python program hands `contract` on; another language takes the `provider` and
`storage_class` outputs into `TritonLlmWorkload`'s `cluster` input.
"""

from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .contract import DEFAULT_ZONE_LABEL, ClusterContract, ModelIdentityRequest, WorkloadIdentity

# Azure's workload-identity webhook mutates only pods that carry this label.
_AZURE_CLIENT_ID = "azure.workload.identity/client-id"
_AZURE_USE_LABEL = "azure.workload.identity/use"


class ExistingClusterArgs(TypedDict):
    kubeconfig: pulumi.Input[str]
    """Kubeconfig of the cluster; pass it as a Pulumi secret (`pulumi config set --secret`)."""
    storage_class: str
    """Name of a StorageClass whose volumes are encrypted with a customer-managed key."""
    manages_device_plugin: NotRequired[bool]
    """Whether the cluster already runs the NVIDIA device plugin (GPU Operator, GKE). Defaults to `False`."""
    model_identities: NotRequired[Mapping[str, Mapping[str, str]]]
    """Per model name, the annotations for its service account (e.g. `eks.amazonaws.com/role-arn`). Defaults to none."""
    zone_label: NotRequired[str]
    """Node label that names the zone. Defaults to `topology.kubernetes.io/zone`."""


class ExistingCluster(pulumi.ComponentResource):
    """An explicit Kubernetes provider and the contract for a cluster the user already runs."""

    provider: k8s.Provider
    """The explicit Kubernetes provider for the cluster (its kubeconfig is kept secret)."""
    storage_class: pulumi.Output[str]
    """The encrypted StorageClass that model caches use."""

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-infra:index:ExistingCluster", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.secret(args["kubeconfig"]),
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        identities = {m: dict(a) for m, a in (args.get("model_identities") or {}).items()}

        def bind(request: ModelIdentityRequest, _opts: pulumi.ResourceOptions) -> WorkloadIdentity:
            annotations = identities.get(request.model, {})
            labels = {_AZURE_USE_LABEL: "true"} if _AZURE_CLIENT_ID in annotations else {}
            return WorkloadIdentity(
                service_account_annotations=annotations,
                pod_labels=labels,
                description=f"{request.namespace}/{request.service_account} via the cluster owner's identity "
                f"({', '.join(f'{k}={v}' for k, v in sorted(annotations.items()))})",
            )

        self.storage_class = pulumi.Output.from_input(args["storage_class"])
        self.contract = ClusterContract(
            provider=self.provider,
            storage_class=args["storage_class"],
            encryption_key=f"customer key of StorageClass {args['storage_class']} (managed by the cluster owner)",
            manages_device_plugin=args.get("manages_device_plugin", False),
            bind_model_identity=bind,
            zone_label=args.get("zone_label", DEFAULT_ZONE_LABEL),
        )
        self.register_outputs({"provider": self.provider, "storage_class": self.storage_class})
