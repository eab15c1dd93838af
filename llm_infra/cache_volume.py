"""How fast a model's cache volume reads on each cloud, and the startup budget that follows.

The startup probe must cover reading the weights from the model cache. Where the stack
provisions the volume's throughput (EBS gp3, Azure Premium SSD v2) it provisions
`config.CACHE_READ_MIB_S`, the rate the default budget assumes; where throughput follows
the disk's size (GCP persistent disks, Azure Premium SSD tiers) the budget is computed
from the documented rate for the cache's size (the clouds' fact tables).
"""

from __future__ import annotations

from .config import CACHE_READ_MIB_S, ModelConfig, StackConfig


def cache_read_mib_s(config: StackConfig, model: ModelConfig) -> float | None:
    """The cache volume's sequential read rate for `model`, or None where llm-infra does not build the volume."""
    size = model.effective_cache_size_gib
    if config.cloud == "aws":
        return float(CACHE_READ_MIB_S)  # gp3 provisioned at this rate (aws/cluster.py)
    if config.cloud == "gcp":
        from .catalog.gcp_facts import pd_read_mib_s

        assert config.gcp is not None
        return pd_read_mib_s(config.gcp.cache_disk_type, size)
    if config.cloud == "azure":
        from .catalog.azure_facts import premium_read_mib_s

        assert config.azure is not None
        if config.azure.disk_sku == "PremiumV2_LRS":
            return float(CACHE_READ_MIB_S)  # provisioned at this rate (azure/cluster.py)
        return premium_read_mib_s(size)
    return None


def with_load_budget(config: StackConfig, model: ModelConfig) -> ModelConfig:
    """`model` with its startup budget computed from its cache volume's real read rate (unless the
    model sets `max_load_seconds` itself, or the volume is not ours)."""
    if model.max_load_seconds is not None:
        return model
    rate = cache_read_mib_s(config, model)
    if rate is None:
        return model
    return model.model_copy(update={"max_load_seconds": model.load_budget_seconds(rate)})
