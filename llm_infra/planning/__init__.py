"""Cost and capacity planning: which GPUs a model needs and what a stack costs per month.

Plain Python (dataclasses; no pydantic, no Pulumi), so the plan summary, stack outputs and
tests can all use it. The three modules:

- `catalog`: GPU instance types of AWS, GCP and Azure and the other priced items, each
  number with its source URL and date;
- `capacity`: `ModelShape`, GPU memory for weights, KV cache and runtime overhead, `fit`,
  `choose_instance` (raises `CapacityError`), batch-1 decode upper bound;
- `cost`: `estimate_stack_cost` (monthly, min and max scale), `plan_model` (fit and
  estimated cost per million generated tokens), fixed-width renderers.

Integration in two calls::

    est = estimate_stack_cost(stack_cost_input(cfg))      # cfg: a validated StackConfig
    est.as_output()                                         # {"min": ..., "max": ..., ...}
    render_cost_table(est)                                  # text for `llm-infra plan`
    plans = plan_models(cfg, {"llama-3-8b": LLAMA_3_1_8B.serving(max_context=8192, max_concurrent_seqs=32)})
    render_model_table(plans); {k: p.as_output() for k, p in plans.items() if not isinstance(p, str)}
"""

from .capacity import (
    KNOWN_SHAPES,
    LLAMA_3_1_8B,
    LLAMA_3_1_70B,
    LLAMA_3_2_1B,
    MISTRAL_7B,
    TINYLLAMA_1_1B,
    CapacityError,
    Choice,
    Fit,
    MemoryBreakdown,
    ModelShape,
    choose_instance,
    decode_tokens_per_s_upper_bound,
    fit,
    kv_cache_bytes,
    memory_per_gpu,
    required_gib,
    weight_bytes,
)
from .catalog import CATALOG, HOURS_PER_MONTH, InstanceType, Source, instance, instances, unsourced
from .cost import (
    CostEstimate,
    CostLine,
    GpuPoolCostInput,
    ModelPlan,
    StackCostInput,
    ThroughputAssumption,
    default_gpu_instance,
    estimate_stack_cost,
    plan_model,
    plan_models,
    render_cost_table,
    render_model_table,
    stack_cost_input,
)

__all__ = [
    "CATALOG", "HOURS_PER_MONTH", "KNOWN_SHAPES", "LLAMA_3_1_70B", "LLAMA_3_1_8B", "LLAMA_3_2_1B", "MISTRAL_7B",
    "TINYLLAMA_1_1B", "CapacityError", "Choice", "CostEstimate", "CostLine", "Fit", "GpuPoolCostInput",
    "InstanceType", "MemoryBreakdown", "ModelPlan", "ModelShape", "Source", "StackCostInput",
    "ThroughputAssumption", "choose_instance", "decode_tokens_per_s_upper_bound", "default_gpu_instance",
    "estimate_stack_cost", "fit", "instance", "instances", "kv_cache_bytes", "memory_per_gpu", "plan_model",
    "plan_models", "render_cost_table", "render_model_table", "required_gib", "stack_cost_input", "unsourced",
    "weight_bytes",
]
