"""One model on an existing GPU cluster, from llm-infra's components (no LlmPlatform)."""

import pulumi

from llm_infra import ExistingCluster, ModelConfig, TenantNamespace, TritonLlmWorkload

config = pulumi.Config()

cluster = ExistingCluster(
    "gpu-cluster",
    {
        "kubeconfig": config.require_secret("kubeconfig"),
        "storage_class": config.get("storageClass") or "encrypted-ssd",
        "model_identities": {"mistral-7b": {"eks.amazonaws.com/role-arn": config.require("roleArn")}},
    },
).contract

namespace = TenantNamespace(
    "serving", {"provider": cluster.provider, "namespace": "llm-serving", "gpu_quota": 2}
)

model = ModelConfig(
    name="mistral-7b",
    backend="vllm",
    weights_uri="s3://my-models/mistralai/Mistral-7B-Instruct-v0.3",
    weights_size_gib=15,
    revision="v0.3",
    gpu_pool="l4",
    min_replicas=1,
    max_replicas=2,
    clients=["chat-frontend"],
)

workload = TritonLlmWorkload(
    "mistral-7b",
    {"model": model, "cluster": cluster, "production": False},
    opts=pulumi.ResourceOptions(depends_on=[namespace]),
)

pulumi.export("http_endpoint", workload.http_endpoint)
pulumi.export("grpc_endpoint", workload.grpc_endpoint)
