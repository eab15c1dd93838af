"""The llm-infra stack program: validated config in, the whole platform out.

`pulumi up` runs this for a stack with `stacks/Pulumi.<stack>.yaml`; `llm-infra plan`
runs the same file offline under Pulumi's mock engine.
"""

import pulumi

from llm_infra.config import load_stack_config
from llm_infra.enforce import refuse_mandatory_violations
from llm_infra.platform import LlmPlatform

# Validation happens here, before the first resource is registered: the config, then every
# mandatory policy over the plan of this very program (with or without --policy-pack).
config = load_stack_config()
refuse_mandatory_violations()

platform = LlmPlatform(
    config.environment,
    {"config": config, "kubeconfig": pulumi.Config("llm-infra").get_secret("kubeconfig")}
    if config.cloud == "existing"
    else {"config": config},
)

pulumi.export("environment", config.environment)
pulumi.export("cloud", config.cloud)
pulumi.export("model_endpoints", platform.model_endpoints)
pulumi.export("namespaces", platform.namespaces)
if config.inference_gateway.enabled:  # per model, its path on the internal inference Gateway
    pulumi.export("inference_routes", platform.inference_routes)
pulumi.export("device_plugin_deployed", platform.device_plugin_deployed)
pulumi.export("model_plans", platform.model_plans)
pulumi.export("operator_install_order", platform.operator_install_order)  # empty where the cluster has its own
if config.cloud != "existing":  # the owner of an existing cluster pays for it; nothing to estimate
    pulumi.export("estimated_monthly_cost_usd", platform.estimated_monthly_cost_usd)
for key, value in platform.cluster_outputs.items():  # e.g. the kubeconfig of a cluster the stack creates (secret)
    pulumi.export(key, value)
