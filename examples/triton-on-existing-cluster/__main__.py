"""One model on an existing GPU cluster, from llm-infra's components (no LlmPlatform)."""

import pulumi

from llm_infra import ExistingCluster, ModelConfig, TenantNamespace, TritonLlmWorkload

config = pulumi.Config()

cluster = ExistingCluster(
    "gpu-cluster",
    {
        "kubeconfig": config.require_secret("kubeconfig"),
        "storage_class": config.get("storageClass") or "encrypted-ssd",
    },
)

namespace = TenantNamespace(
    "serving", {"provider": cluster.provider, "namespace": "llm-serving", "gpu_quota": 2}
)

model = ModelConfig(
    name="mistral-7b",
    backend="vllm",
    weights_uri="s3://my-models/mistralai/Mistral-7B-Instruct-v0.3",
    weights_size_gib=15,
    revision="547a43522dbc3e4c4ef161cebd9b275907b852fedc6a4d63a59f1cbc3be8c09a",
    gpu_pool="l4",
    min_replicas=1,
    max_replicas=2,
    clients=["chat-frontend"],
)

workload = TritonLlmWorkload(
    "mistral-7b",
    {
        "model": model,
        "cluster": {"provider": cluster.provider, "storage_class": cluster.storage_class},
        # The cluster owner's IRSA role that may read this model's prefix, and nothing else.
        "service_account_annotations": {"eks.amazonaws.com/role-arn": config.require("roleArn")},
        "production": False,
    },
    opts=pulumi.ResourceOptions(depends_on=[namespace]),
)

pulumi.export("http_endpoint", workload.http_endpoint)
pulumi.export("grpc_endpoint", workload.grpc_endpoint)
