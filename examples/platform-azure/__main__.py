"""The whole llm-infra platform on Azure, from a StackConfig built in code.

Location, subscription and tenant come from the Azure Native provider's own config
keys; the admin group and the weights' storage account from this project's config.
"""

import pulumi

from llm_infra import LlmPlatform, parse_stack_config

config = pulumi.Config()
azure = pulumi.Config("azure-native")
production = config.get_bool("production") or False
environment = pulumi.get_stack()
account = config.require("storageAccount")

stack_config = parse_stack_config({
    "cloud": "azure",
    "environment": environment,
    "production": production,
    "region": azure.require("location"),
    "isolation": "dedicated" if production else "shared",
    # The price catalog prices Azure sizes in eastus only (docs/planning.md): the estimate uses eastus
    # prices and says so.
    "cost": {"price_region": "eastus"},
    "azure": {
        "subscription_id": azure.require("subscriptionId"),
        "tenant_id": azure.require("tenantId"),
        "admin_group_object_ids": [config.require("adminGroupObjectId")],
        "system_nodes": 3 if production else 2,
        # Azure Dedicated Host runs no NC/ND size: production names the GPU pool as an
        # explicit, reported exception to dedicated isolation.
        "shared_host_gpu_pools": ["a100"] if production else [],
    },
    "gpu_pools": [{
        "name": "a100",
        "gpu": "nvidia-a100-80gb",
        "instance_type": "Standard_NC24ads_A100_v4",
        "gpus_per_node": 1,
        "min_nodes": 2 if production else 0,
        "max_nodes": 3,
        "spot": not production,
    }],
    "models": [{
        "name": "llama-3-8b",
        "backend": "vllm",
        # One container per model: the model's identity may read its own container only.
        "weights_uri": f"https://{account}.blob.core.windows.net/llama-3-8b/meta-llama/Llama-3.1-8B-Instruct",
        "weights_size_gib": 16,
        "revision": "5f3aa00d4e6e9f262f41a2dde526000ed502a6d4c886a5ac1ff2451efb961789",
        "gpu_pool": "a100",
        "min_replicas": 2 if production else 1,
        "max_replicas": 3,
        "batching": {"max_batch_size": 32},
        "engine_args": {"max_model_len": 8192, "gpu_memory_utilization": 0.92},
        "clients": ["chat-frontend"],
    }],
})

platform = LlmPlatform(environment, {"config": stack_config})

pulumi.export("model_endpoints", platform.model_endpoints)
pulumi.export("estimated_monthly_cost_usd", platform.estimated_monthly_cost_usd)
for key, value in platform.cluster_outputs.items():  # kubeconfig (secret), cluster_name, storage_account, key ids
    pulumi.export(key, value)
pulumi.export("storage_class", platform.cluster.storage_class)
