"""The whole llm-infra platform on AWS, from a StackConfig built in code.

Only what differs per account comes from this project's config (region, account, admin
role); the pools and models are written here, as Python, and validated by
`parse_stack_config` before the first resource is registered.

The stack exports what a second stack needs to add models to this platform
(`examples/model-on-shared-platform`): the kubeconfig (secret), the encrypted storage
class, the customer key and the cluster's OIDC issuer and IAM OIDC provider.
"""

import pulumi

from llm_infra import LlmPlatform, parse_stack_config
from llm_infra.aws.naming import partition

config = pulumi.Config()
region = pulumi.Config("aws").require("region")
account_id = config.require("accountId")
production = config.get_bool("production") or False
environment = pulumi.get_stack()
bucket = f"{account_id}-{environment}-llm-models"

stack_config = parse_stack_config({
    "cloud": "aws",
    "environment": environment,
    "production": production,
    "region": region,
    "isolation": "dedicated" if production else "shared",
    # The price catalog prices g6 (L4) in us-east-1 only (docs/planning.md): elsewhere the estimate uses
    # us-east-1 prices and says so. Drop this where the catalog prices your region.
    "cost": {"price_region": "us-east-1"},
    "aws": {
        "account_id": account_id,
        "admin_principal_arns": [config.require("adminRoleArn")],
        # One NAT gateway outside production; one per zone in production.
        "single_nat_gateway": not production,
    },
    "gpu_pools": [{
        "name": "l4",
        "gpu": "nvidia-l4",
        # 8 vCPU / 32 GiB: a replica's 4 CPU and 24 GiB do not fit a g6.xlarge (llm_infra/fit.py).
        "instance_type": "g6.2xlarge",
        "gpus_per_node": 1,
        "min_nodes": 2 if production else 0,
        "max_nodes": 4,
        "spot": not production,
    }],
    "models": [{
        "name": "llama-3-8b",
        "backend": "vllm",
        "weights_uri": f"s3://{bucket}/meta-llama/Llama-3.1-8B-Instruct",
        "weights_size_gib": 16,
        "revision": "5f3aa00d4e6e9f262f41a2dde526000ed502a6d4c886a5ac1ff2451efb961789",
        "gpu_pool": "l4",
        # vLLM maps the weights (reclaimable page cache); 24 GiB leaves the node agents room.
        "memory_gib": 24,
        "min_replicas": 2 if production else 1,
        "max_replicas": 3,
        "shape": "Llama-3.1-8B",
        "weight_dtype": "fp8",
        "max_context": 8192,
        "batching": {"max_batch_size": 8},
        "clients": ["chat-frontend"],
    }],
})

platform = LlmPlatform(environment, {"config": stack_config})
cluster = platform.cluster

pulumi.export("model_endpoints", platform.model_endpoints)
pulumi.export("estimated_monthly_cost_usd", platform.estimated_monthly_cost_usd)
for key, value in platform.cluster_outputs.items():  # kubeconfig (secret), cluster_name, model_bucket, kms_key_arn
    pulumi.export(key, value)
# What a stack that adds its own models to this platform reads through a StackReference.
pulumi.export("region", region)
pulumi.export("storage_class", cluster.storage_class)
pulumi.export("oidc_issuer", cluster.oidc_issuer)
# IAM names an OIDC provider by its issuer host and path (every EKS cluster has an issuer).
assert cluster.oidc_issuer is not None
pulumi.export("oidc_provider_arn", pulumi.Output.from_input(cluster.oidc_issuer).apply(
    lambda issuer: f"arn:{partition(region)}:iam::{account_id}:oidc-provider/{issuer.removeprefix('https://')}"))
