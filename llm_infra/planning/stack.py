"""A stack's planning view: its monthly cost range and each model's GPU fit, from its config.

Used for the stack outputs (`estimated_monthly_cost_usd`, `model_plans`) and the
`llm-infra plan` summary, so both show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .capacity import GPU_MEMORY_UTILIZATION, memory_per_gpu
from .catalog import GPUS
from .cost import CostEstimate, ModelPlan, estimate_stack_cost, plan_models, render_cost_table, render_model_table
from .cost import priced_clouds, stack_cost_input


@dataclass(frozen=True)
class StackPlan:
    cost: CostEstimate | None
    """None where llm-infra does not run the cluster (cloud `existing`): its owner pays for it."""
    models: dict[str, ModelPlan | dict[str, Any] | str]
    """Per model: its plan on the pool's instance type (clouds), its GPU fit (existing), or why none."""

    def outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model_plans": {
            name: plan.as_output() if isinstance(plan, ModelPlan) else plan for name, plan in self.models.items()
        }}
        if self.cost is not None:
            out["estimated_monthly_cost_usd"] = self.cost.as_output()
        return out

    def render(self) -> str:
        parts = []
        if self.cost is not None:
            parts.append(render_cost_table(self.cost))
        else:
            parts.append("Estimated monthly cost: not estimated (cloud 'existing': the cluster's owner pays for it)")
        if all(isinstance(p, (ModelPlan, str)) for p in self.models.values()):
            parts.append(render_model_table(self.models))  # type: ignore[arg-type]
        else:
            rows = ["Models: GPU fit on the pool's GPUs"]
            for name, plan in self.models.items():
                if isinstance(plan, dict):
                    rows.append(f"  {name:<18} {plan['gpus_per_replica']} x {plan['gpu']}: needs "
                                f"{plan['gpu_memory_needed_gib']:.1f} of {plan['gpu_memory_usable_gib']:.1f} GiB "
                                f"usable per GPU ({'fits' if plan['fits'] else 'does NOT fit'})")
                else:
                    rows.append(f"  {name:<18} -- {plan}")
            parts.append("\n".join(rows))
        return "\n\n".join(parts)


def _gpu_fit(cfg: Any) -> dict[str, dict[str, Any] | str]:
    pools = {p.name: p for p in cfg.gpu_pools}
    out: dict[str, dict[str, Any] | str] = {}
    for m in cfg.models:
        shape = m.model_shape
        if shape is None:
            out[m.name] = "no model shape given: fit not estimated"
            continue
        pool = pools[m.gpu_pool]
        gib = min(s.memory_gib for s in GPUS.values() if s.model == pool.gpu)
        need = memory_per_gpu(shape, tp=m.gpus_per_replica).total_gib
        usable = gib * GPU_MEMORY_UTILIZATION
        out[m.name] = {"gpu": pool.gpu, "gpus_per_replica": m.gpus_per_replica,
                       "gpu_memory_needed_gib": round(need, 1), "gpu_memory_usable_gib": round(usable, 1),
                       "fits": need <= usable}
    return out


def plan_stack(cfg: Any) -> StackPlan:
    """The planning view of a validated StackConfig."""
    if cfg.cloud not in priced_clouds():
        return StackPlan(cost=None, models=dict(_gpu_fit(cfg)))
    shapes = {m.name: m.model_shape for m in cfg.models if m.model_shape is not None}
    return StackPlan(cost=estimate_stack_cost(stack_cost_input(cfg)), models=dict(plan_models(cfg, shapes)))
