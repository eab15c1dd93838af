"""How fast a model's cache volume reads on each cloud, and the startup budget that follows.

The startup probe must cover reading the weights from the model cache. Each cloud's settings
answer the rate (`cache_read_mib_s`): where the stack provisions the volume's throughput it
provisions `config.CACHE_READ_MIB_S`, the rate the default budget assumes; where throughput
follows the disk's size the budget is computed from the documented rate for the cache's size
(the cloud's fact table).
"""

from __future__ import annotations

from .config import ModelConfig, StackConfig


def cache_read_mib_s(config: StackConfig, model: ModelConfig) -> float | None:
    """The cache volume's sequential read rate for `model` (the cloud settings' `cache_read_mib_s`), or None where
    llm-infra does not build the volume (`existing`)."""
    settings = config.cloud_settings
    return settings.cache_read_mib_s(model.effective_cache_size_gib) if settings is not None else None


def with_load_budget(config: StackConfig, model: ModelConfig) -> ModelConfig:
    """`model` with its startup budget computed from its cache volume's real read rate (unless the
    model sets `max_load_seconds` itself, or the volume is not ours)."""
    if model.max_load_seconds is not None:
        return model
    rate = cache_read_mib_s(config, model)
    if rate is None:
        return model
    return model.model_copy(update={"max_load_seconds": model.load_budget_seconds(rate)})
