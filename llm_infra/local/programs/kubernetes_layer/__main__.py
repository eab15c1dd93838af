"""The Kubernetes layer of a cloud stack, on a cluster given by kubeconfig.

Runs `LlmPlatform` for a cloud stack's config with the cluster contract the cloud's
platform cluster hands over (llm_infra/<cloud>/platform_cluster.py), its cloud-side
values fixed: the cloud's storage class name and flags as its component sets them, and a
model identity binder that returns the annotations the cloud's binder would, without
creating cloud identities. Everything on the Kubernetes side is the real thing.
"""

import pulumi
import pulumi_kubernetes as k8s

from llm_infra.config import load_stack_config
from llm_infra.contract import ClusterContract, ModelIdentityRequest, WorkloadIdentity
from llm_infra.catalog.gcp_facts import PRIVATE_GOOGLE_APIS_CIDR
from llm_infra.platform import LlmPlatform

config = load_stack_config()
cloud = config.cloud

if cloud == "aws":
    from llm_infra.aws.cluster import STORAGE_CLASS
    from llm_infra.aws.gpu_node_pool import GPU_POOL_LABEL
elif cloud == "gcp":
    from llm_infra.gcp.cluster import STORAGE_CLASS
    from llm_infra.gcp.gpu_node_pool import GPU_POOL_LABEL
elif cloud == "azure":
    from llm_infra.azure.cluster import STORAGE_CLASS
    from llm_infra.azure.gpu_node_pool import GPU_POOL_LABEL
    from llm_infra.azure.platform_cluster import SPOT_TOLERATION
else:
    raise SystemExit(f"cloud: expected aws, gcp or azure for the Kubernetes-layer program, got {cloud!r}")


def bind(request: ModelIdentityRequest, _opts: pulumi.ResourceOptions) -> WorkloadIdentity:
    """The shape of each cloud's binding (IRSA role, GCP service account, Entra client id), fixed values."""
    if cloud == "aws":
        return WorkloadIdentity({"eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/{request.model}"})
    if cloud == "gcp":
        return WorkloadIdentity({"iam.gke.io/gcp-service-account": f"{request.model}@project.iam.gserviceaccount.com"})
    return WorkloadIdentity({"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000001"},
                            pod_labels={"azure.workload.identity/use": "true"})


provider = k8s.Provider("cluster-k8s", kubeconfig=pulumi.Config("llm-infra").require_secret("kubeconfig"),
                        enable_server_side_apply=True)
contract = ClusterContract(
    provider=provider,
    storage_class=STORAGE_CLASS,
    encryption_key=f"{cloud} customer key (cloud side not deployed here)",
    manages_device_plugin=cloud == "gcp",
    manages_gpu_metrics=cloud == "gcp",
    bind_model_identity=bind,
    metadata_identity_egress=cloud == "gcp",
    # As llm_infra/gcp/platform_cluster.py in a network the stack creates.
    public_egress_cidrs=(PRIVATE_GOOGLE_APIS_CIDR,) if cloud == "gcp" else None,
    gpu_pool_label=GPU_POOL_LABEL,
    workload_tolerations=(SPOT_TOLERATION,) if cloud == "azure" and any(p.spot for p in config.gpu_pools) else (),
)
platform = LlmPlatform(config.environment, {"config": config}, contract=contract)

pulumi.export("model_endpoints", platform.model_endpoints)
pulumi.export("namespaces", platform.namespaces)
pulumi.export("device_plugin_deployed", platform.device_plugin_deployed)
