"""A model team's Triton model on a platform that another stack owns.

The platform team's stack (`../platform-aws`) owns the cluster, its GPU pools and the
GPU software layer, and exports what a model needs: the kubeconfig (secret), the
encrypted storage class, the customer key and the cluster's OIDC identity. This stack
reads those outputs through a `StackReference` and adds its own tenant namespace and
model on that cluster. The model's cloud
identity is this team's: an IRSA role trusted only by the model's service account, that
may read only the model's prefix of the team's own bucket.
"""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from llm_infra import ModelConfig, TenantNamespace, TritonLlmWorkload, WorkloadIdentity
from llm_infra.aws.model_store import ROLE_ANNOTATION, model_read_statements
from llm_infra.aws.naming import partition
from llm_infra.aws.policy import document, irsa_trust
from llm_infra.config import parse_weights_uri

config = pulumi.Config()
region = pulumi.Config("aws").require("region")
production = config.get_bool("production") or False
weights_uri = config.require("weightsUri")
weights_key_arn = config.require("weightsKeyArn")

platform = pulumi.StackReference("platform", config.require("platformStack"))

provider = k8s.Provider(
    "platform-cluster",
    kubeconfig=platform.require_output("kubeconfig"),  # secret in the platform stack, secret here
    enable_server_side_apply=True,
)


def bind_model_identity(request, opts: pulumi.ResourceOptions) -> WorkloadIdentity:
    """This team's IRSA role for the model's service account: read its own prefix, decrypt through S3."""
    _, bucket, prefix = parse_weights_uri(request.weights_uri)
    role = aws.iam.Role(
        f"{request.model}-weights-reader",
        name=f"llm-model-{request.model}-{pulumi.get_stack()}"[:64],
        assume_role_policy=irsa_trust(platform.require_output("oidc_provider_arn"),
                                      platform.require_output("oidc_issuer"),
                                      request.namespace, request.service_account),
        description=f"llm-infra model {request.model}: read s3://{bucket}/{prefix}/ only",
        opts=opts,
    )
    aws.iam.RolePolicy(
        f"{request.model}-weights-read",
        role=role.id,
        name="read-model-weights",
        policy=document(model_read_statements(partition(region), bucket, prefix, weights_key_arn, region)),
        opts=opts,
    )
    return WorkloadIdentity(
        service_account_annotations={ROLE_ANNOTATION: role.arn},
        description=f"{request.namespace}/{request.service_account} -> IAM role of model {request.model}",
    )


model = ModelConfig(
    name="qwen-2-5-7b",
    namespace="search",
    backend="vllm",
    weights_uri=weights_uri,
    weights_size_gib=16,
    revision="ca348cd58bf0144df16dd65bc169f6cff485de796bae5e1e49fa7524ad93977c",
    gpu_pool="l4",
    min_replicas=2 if production else 1,
    max_replicas=3,
    clients=["search-api"],
)

namespace = TenantNamespace(
    "search", {"provider": provider, "namespace": model.namespace, "gpu_quota": model.max_replicas * model.gpus_per_replica}
)
workload = TritonLlmWorkload(
    model.name,
    # The platform stack runs the device plugin; this stack builds no GPU layer.
    {"model": model, "cluster": {"provider": provider, "storage_class": platform.require_output("storage_class")},
     "production": production},
    opts=pulumi.ResourceOptions(depends_on=[namespace]),
    bind_identity=bind_model_identity,
)

pulumi.export("http_endpoint", workload.http_endpoint)
pulumi.export("grpc_endpoint", workload.grpc_endpoint)
pulumi.export("service_account", workload.service_account)
