"""The whole llm-infra platform on GCP, from a StackConfig built in code.

The project, region and who may reach the private control plane come from this
project's config (the first two under the GCP provider's own keys); the pools and the
model are written here and validated before the first resource is registered.
"""

import pulumi

from llm_infra import LlmPlatform, parse_stack_config

config = pulumi.Config()
gcp = pulumi.Config("gcp")
project = gcp.require("project")
region = gcp.require("region")
production = config.get_bool("production") or False
environment = pulumi.get_stack()
# The stack creates its own model bucket, <project>-<environment>-llm-models.
bucket = f"{project}-{environment}-llm-models"

stack_config = parse_stack_config({
    "cloud": "gcp",
    "environment": environment,
    "production": production,
    "region": region,
    "isolation": "dedicated" if production else "shared",
    "gcp": {
        "project_id": project,
        "project_number": config.require("projectNumber"),
        "master_authorized_networks": [{"cidr_block": config.require("deployerCidr"), "display_name": "deployers"}],
        "zones": [f"{region}-a", f"{region}-b"],
    },
    "gpu_pools": [{
        "name": "l4",
        "gpu": "nvidia-l4",
        "instance_type": "g2-standard-8",
        "gpus_per_node": 1,
        "min_nodes": 2 if production else 0,
        "max_nodes": 4,
        "spot": not production,
    }],
    "models": [{
        "name": "llama-3-8b",
        "backend": "vllm",
        "weights_uri": f"gs://{bucket}/meta-llama/Llama-3.1-8B-Instruct",
        "weights_size_gib": 16,
        "revision": "5f3aa00d4e6e9f262f41a2dde526000ed502a6d4c886a5ac1ff2451efb961789",
        "gpu_pool": "l4",
        "min_replicas": 2 if production else 1,
        "max_replicas": 3,
        "batching": {"max_batch_size": 32},
        "engine_args": {"max_model_len": 8192, "gpu_memory_utilization": 0.92},
        "clients": ["chat-frontend"],
    }],
})

platform = LlmPlatform(environment, {"config": stack_config})

pulumi.export("model_endpoints", platform.model_endpoints)
pulumi.export("device_plugin_deployed", platform.device_plugin_deployed)
pulumi.export("estimated_monthly_cost_usd", platform.estimated_monthly_cost_usd)
for key, value in platform.cluster_outputs.items():  # kubeconfig (secret), cluster_name, model_bucket, kms_key_id
    pulumi.export(key, value)
pulumi.export("storage_class", platform.cluster.storage_class)
