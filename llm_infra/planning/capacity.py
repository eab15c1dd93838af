"""Capacity model: how much GPU memory a model needs, which instance fits it, how fast it can decode.

Per GPU of a replica with tensor-parallel degree `tp`, a vLLM-style engine holds

    weights / tp                                      (weights: see `weight_bytes`)
  + KV cache  = 2 x layers x kv_heads_per_gpu x head_dim x kv_bytes x tokens
                tokens = max_context x max_concurrent_seqs (every sequence at full context)
  + activations = max_batched_tokens x 3 x intermediate_size / tp x 2 bytes   (MLP gate, up, gated product)
                  + max_concurrent_seqs x vocab_size x 4 bytes                 (fp32 logits)
  + CUDA_OVERHEAD_GIB (CUDA contexts, NCCL buffers, CUDA-graph pool)

and must fit in `gpu_memory_utilization` x GPU memory: vLLM only ever allocates that fraction
(default 0.90; https://docs.vllm.ai/en/v0.9.2/api/vllm/config.html `CacheConfig`), leaving the rest
as headroom for fragmentation and allocations outside PyTorch. vLLM profiles activations with a
dummy forward pass at `max_num_batched_tokens`; the two activation terms above are the largest
transient tensors of a Llama-style block and of sampling: the MLP holds three intermediate-size
tensors at its peak (gate and up outputs and their gated product, or vLLM's fused gate_up output
plus SiluAndMul's), which the GPU benchmark measured (docs/benchmarks.md). CUDA_OVERHEAD_GIB is
the non-tensor memory measured there for Triton 2.51 with a python-backend engine on an H100
(tritonserver's own CUDA context and memory pool plus the engine process's context and library
workspaces: 1.23 GiB), rounded up; NCCL buffers and CUDA graphs come on top and are not measured.

Reserving KV for every sequence at full context is the worst case: vLLM pages the cache, so
a model that "does not fit" here may still run with fewer or shorter sequences. That is the
point of the check: the configured concurrency is guaranteed its cache.

Batch-1 decode speed is bounded by memory bandwidth: every generated token reads all weights
and the sequence's KV cache once, so tokens/s <= bandwidth / bytes read. It is an upper bound
(no compute, kernel or communication cost); real engines reach a fraction of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any
from dataclasses import dataclass

from .catalog import CATALOG, InstanceType, Source

GIB = 1024**3

WEIGHT_BYTES: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
"""Bytes per parameter of each weight format. Quantised formats keep embeddings in 16 bit."""

KV_CACHE_BYTES: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0}

ACTIVATION_BYTES = 2.0
"""bf16/fp16 activations, also for quantised weights (vLLM computes in 16 bit)."""

GPU_MEMORY_UTILIZATION = 0.90
"""vLLM's default `gpu_memory_utilization` (0.9 through v0.10; newer releases default to 0.92)."""

CUDA_OVERHEAD_GIB = 1.25
"""Per-GPU memory outside the model's tensors. Measured for Triton 2.51 + a python-backend engine
on an H100 (docs/benchmarks.md): tritonserver 582 MiB + the engine process's non-tensor 678 MiB
= 1.23 GiB, rounded up. Was 1.0 (an assumption) before that measurement."""

DEFAULT_MAX_BATCHED_TOKENS = 8192
"""Tokens per engine step assumed for activation sizing when a shape does not say (an assumption)."""

TENSOR_PARALLEL_DEGREES = (1, 2, 4, 8)


class CapacityError(ValueError):
    """No instance type in the catalog holds the model. The message names the memory it needs."""

    def __init__(self, message: str, *, needed_gib: float, largest: InstanceType | None) -> None:
        super().__init__(message)
        self.needed_gib = needed_gib
        self.largest = largest


@dataclass(frozen=True)
class ModelShape:
    """What the capacity model needs to know about a model and how it is served.

    Architecture fields are a Hugging Face `config.json`'s (`num_hidden_layers`,
    `num_key_value_heads`, ...); `max_context` and `max_concurrent_seqs` are the serving
    plan (vLLM's `max_model_len` and `max_num_seqs`).
    """

    name: str
    params_billion: float
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    max_context: int
    max_concurrent_seqs: int = 1
    weight_dtype: str = "bf16"
    kv_cache_dtype: str = "auto"
    """`auto` is the activation dtype (16 bit), as in vLLM; or one of KV_CACHE_BYTES."""
    tie_word_embeddings: bool = False
    max_batched_tokens: int | None = None
    """Tokens per engine step (vLLM `max_num_batched_tokens`). Defaults to min(8192, context x seqs)."""
    source: Source | None = None

    def __post_init__(self) -> None:
        problems = []
        for f in ("layers", "attention_heads", "kv_heads", "head_dim", "hidden_size", "intermediate_size",
                  "vocab_size", "max_context", "max_concurrent_seqs"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                problems.append(f"{f}: expected a positive integer, got {v!r}")
        if not (isinstance(self.params_billion, (int, float)) and self.params_billion > 0):
            problems.append(f"params_billion: expected > 0, got {self.params_billion!r}")
        if self.weight_dtype not in WEIGHT_BYTES:
            problems.append(f"weight_dtype: expected one of {sorted(WEIGHT_BYTES)}, got {self.weight_dtype!r}")
        if self.kv_cache_dtype != "auto" and self.kv_cache_dtype not in KV_CACHE_BYTES:
            problems.append(f"kv_cache_dtype: expected 'auto' or one of {sorted(KV_CACHE_BYTES)}, got {self.kv_cache_dtype!r}")
        if not problems and self.attention_heads % self.kv_heads:
            problems.append(f"kv_heads: expected a divisor of attention_heads ({self.attention_heads}), got {self.kv_heads}")
        if self.max_batched_tokens is not None and (not isinstance(self.max_batched_tokens, int) or self.max_batched_tokens < 1):
            problems.append(f"max_batched_tokens: expected a positive integer, got {self.max_batched_tokens!r}")
        if not problems and self.embedding_params > self.params_billion * 1e9:
            problems.append(f"params_billion: expected at least the embedding parameters "
                            f"({self.embedding_params / 1e9:.3f} B), got {self.params_billion}")
        if problems:
            raise ValueError(f"invalid model shape {self.name!r}: " + "; ".join(problems))

    def serving(self, *, max_context: int | None = None, max_concurrent_seqs: int | None = None,
                weight_dtype: str | None = None, kv_cache_dtype: str | None = None) -> ModelShape:
        """The same model served differently (a copy; the original is unchanged)."""
        changes: dict[str, Any] = {k: v for k, v in {
            "max_context": max_context, "max_concurrent_seqs": max_concurrent_seqs,
            "weight_dtype": weight_dtype, "kv_cache_dtype": kv_cache_dtype}.items() if v is not None}
        return dataclasses.replace(self, **changes)

    @property
    def embedding_params(self) -> int:
        """Input embedding plus LM head (one matrix when tied); kept in 16 bit when quantised."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def kv_bytes_per_element(self) -> float:
        if self.kv_cache_dtype == "auto":
            return 4.0 if self.weight_dtype == "fp32" else ACTIVATION_BYTES
        return KV_CACHE_BYTES[self.kv_cache_dtype]

    @property
    def batched_tokens(self) -> int:
        if self.max_batched_tokens is not None:
            return self.max_batched_tokens
        return min(DEFAULT_MAX_BATCHED_TOKENS, self.max_context * self.max_concurrent_seqs)


# --- memory ------------------------------------------------------------------------------------


def weight_bytes(shape: ModelShape) -> float:
    """Bytes of weights: quantised body at the weight format, embeddings at 16 bit (or fp32)."""
    total = shape.params_billion * 1e9
    per_param = WEIGHT_BYTES[shape.weight_dtype]
    if per_param >= 2.0:
        return total * per_param
    return (total - shape.embedding_params) * per_param + shape.embedding_params * ACTIVATION_BYTES


def kv_bytes_per_token(shape: ModelShape, tp: int = 1) -> float:
    """KV cache bytes per token on one GPU: 2 (K and V) x layers x kv heads x head_dim x bytes.

    With tp > kv_heads each GPU keeps a replica of a KV head, as vLLM does.
    """
    heads = max(1.0, shape.kv_heads / tp)
    return 2 * shape.layers * heads * shape.head_dim * shape.kv_bytes_per_element


def kv_cache_bytes(shape: ModelShape, tokens: int | None = None, tp: int = 1) -> float:
    """KV cache on one GPU for `tokens` (default: max_context x max_concurrent_seqs)."""
    if tokens is None:
        tokens = shape.max_context * shape.max_concurrent_seqs
    return kv_bytes_per_token(shape, tp) * tokens


def activation_bytes(shape: ModelShape, tp: int = 1) -> float:
    """Peak transient memory of one engine step on one GPU (see module docstring)."""
    # Gate and up outputs and their gated product are alive together (measured: docs/benchmarks.md).
    mlp = shape.batched_tokens * 3 * (shape.intermediate_size / tp) * ACTIVATION_BYTES
    logits = shape.max_concurrent_seqs * shape.vocab_size * 4.0
    return mlp + logits


@dataclass(frozen=True)
class MemoryBreakdown:
    """GiB one GPU of a replica needs, by item."""

    tensor_parallel: int
    weights_gib: float
    kv_cache_gib: float
    activations_gib: float
    overhead_gib: float

    @property
    def total_gib(self) -> float:
        return self.weights_gib + self.kv_cache_gib + self.activations_gib + self.overhead_gib

    @property
    def runtime_overhead_gib(self) -> float:
        """Everything but weights and KV cache."""
        return self.activations_gib + self.overhead_gib


def memory_per_gpu(shape: ModelShape, tp: int = 1) -> MemoryBreakdown:
    if tp < 1:
        raise ValueError(f"tp: expected >= 1, got {tp}")
    return MemoryBreakdown(
        tensor_parallel=tp,
        weights_gib=weight_bytes(shape) / tp / GIB,
        kv_cache_gib=kv_cache_bytes(shape, tp=tp) / GIB,
        activations_gib=activation_bytes(shape, tp) / GIB,
        overhead_gib=CUDA_OVERHEAD_GIB,
    )


def required_gib(shape: ModelShape) -> float:
    """GPU memory the model needs on a single GPU (tp=1): the least any layout needs in total."""
    return memory_per_gpu(shape, 1).total_gib


def valid_tensor_parallel(shape: ModelShape, tp: int) -> bool:
    """vLLM's rule: attention heads split evenly, KV heads split evenly or replicated evenly."""
    return shape.attention_heads % tp == 0 and (shape.kv_heads % tp == 0 or tp % shape.kv_heads == 0)


# --- fit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """Whether a model fits an instance type, and how (GPUs per replica, replicas per node)."""

    instance: InstanceType
    fits: bool
    tensor_parallel: int | None
    """GPUs per replica (tensor parallel degree), None when it does not fit."""
    replicas_per_node: int
    memory: MemoryBreakdown
    """Per-GPU need at the chosen degree, or at the largest degree tried when it does not fit."""
    budget_gib_per_gpu: float

    @property
    def gpus_per_replica(self) -> int | None:
        return self.tensor_parallel

    @property
    def reason(self) -> str:
        m = self.memory
        verdict = "fits" if self.fits else "does not fit"
        return (f"{verdict} {self.instance.name} at tp={m.tensor_parallel}: {m.total_gib:.1f} GiB per GPU "
                f"(weights {m.weights_gib:.1f} + KV {m.kv_cache_gib:.1f} + runtime {m.runtime_overhead_gib:.1f}) "
                f"vs {self.budget_gib_per_gpu:.1f} GiB usable")


def fit(shape: ModelShape, entry: InstanceType, gpu_memory_utilization: float = GPU_MEMORY_UTILIZATION) -> Fit:
    """The smallest power-of-two tensor-parallel degree (up to the instance's GPUs) that fits."""
    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError(f"gpu_memory_utilization: expected in (0, 1], got {gpu_memory_utilization}")
    budget = entry.gpu_memory_gib * gpu_memory_utilization
    tried: MemoryBreakdown | None = None
    for tp in TENSOR_PARALLEL_DEGREES:
        if tp > entry.gpu_count or not valid_tensor_parallel(shape, tp):
            continue
        need = memory_per_gpu(shape, tp)
        tried = need
        if need.total_gib <= budget:
            return Fit(entry, True, tp, entry.gpu_count // tp, need, budget)
    return Fit(entry, False, None, 0, tried or memory_per_gpu(shape, 1), budget)


# --- choosing an instance --------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The cheapest instance type that fits, priced."""

    fit: Fit
    spot: bool
    usd_per_hour: float
    spot_price_known: bool
    price_region: str
    note: str = ""

    @property
    def instance(self) -> InstanceType:
        return self.fit.instance

    @property
    def usd_per_replica_hour(self) -> float:
        return self.usd_per_hour / self.fit.replicas_per_node


def choose_instance(shape: ModelShape, cloud: str, spot: bool = False, region: str | None = None,
                    catalog: Iterable[InstanceType] = CATALOG,
                    gpu_memory_utilization: float = GPU_MEMORY_UTILIZATION) -> Choice:
    """The cheapest instance type of `cloud` (lowest hourly price per node) that holds one replica.

    Ties go to the lower price per replica, then the name. Raises CapacityError when nothing fits.
    With `region`, entries priced in that region are preferred; the catalog prices one region
    per cloud, so otherwise the choice is priced in the catalog's region and `note` says so.
    """
    entries = [e for e in catalog if e.cloud == cloud]
    if not entries:
        raise ValueError(f"cloud: expected one of {sorted({e.cloud for e in catalog})}, got {cloud!r}")
    note = ""
    if region is not None:
        local = [e for e in entries if e.region == region]
        if local:
            entries = local
        else:
            note = f"priced in {entries[0].region}: the catalog has no {cloud} prices for {region}"
    fits = [f for f in (fit(shape, e, gpu_memory_utilization) for e in entries) if f.fits]
    if not fits:
        largest = max(entries, key=lambda e: (e.total_gpu_memory_gib, -e.on_demand_usd_per_hour))
        need = memory_per_gpu(shape, 1)
        at_largest = fit(shape, largest, gpu_memory_utilization)
        raise CapacityError(
            f"model {shape.name!r} fits no {cloud} instance type: it needs at least {need.total_gib:.1f} GiB of "
            f"GPU memory (weights {need.weights_gib:.1f} GiB + KV cache {need.kv_cache_gib:.1f} GiB for "
            f"{shape.max_concurrent_seqs} x {shape.max_context} tokens + runtime {need.runtime_overhead_gib:.1f} GiB), "
            f"that is {need.total_gib / gpu_memory_utilization:.1f} GiB of GPUs at gpu_memory_utilization "
            f"{gpu_memory_utilization}; the largest available is {largest.name} with {largest.gpu_count} x "
            f"{largest.gpu_memory_gib:.1f} GiB = {largest.total_gpu_memory_gib:.1f} GiB "
            f"({at_largest.memory.total_gib:.1f} GiB per GPU needed at tp={at_largest.memory.tensor_parallel}, "
            f"{at_largest.budget_gib_per_gpu:.1f} usable)",
            needed_gib=need.total_gib, largest=largest,
        )
    best = min(fits, key=lambda f: (f.instance.hourly_usd(spot),
                                    f.instance.hourly_usd(spot) / f.replicas_per_node, f.instance.name))
    e = best.instance
    if spot and not e.has_spot_price:
        note = "; ".join(x for x in (note, f"no spot price known for {e.name}: priced on-demand") if x)
    return Choice(best, spot, e.hourly_usd(spot), e.has_spot_price, e.region, note)


# --- decode speed ------------------------------------------------------------------------------


def bytes_read_per_step(shape: ModelShape, tp: int, batch: int, context_tokens: int) -> float:
    """Bytes one GPU reads per decode step: its weight shard and `batch` sequences' KV cache."""
    return weight_bytes(shape) / tp + batch * kv_bytes_per_token(shape, tp) * context_tokens


def decode_tokens_per_s_upper_bound(shape: ModelShape, entry: InstanceType, tp: int | None = None,
                                    context_tokens: int | None = None) -> float:
    """Batch-1 decode tokens/s UPPER BOUND: memory bandwidth / bytes read per token.

    `tp` defaults to the degree `fit` chooses; `context_tokens` to `max_context` (the
    sequence's KV cache is read at every step). No real engine reaches this bound.
    """
    if tp is None:
        f = fit(shape, entry)
        tp = f.tensor_parallel or max(d for d in TENSOR_PARALLEL_DEGREES if d <= entry.gpu_count)
    ctx = shape.max_context if context_tokens is None else context_tokens
    return entry.memory_bandwidth_gb_s * 1e9 / bytes_read_per_step(shape, tp, 1, ctx)


def decode_tokens_per_s_bound_at_batch(shape: ModelShape, entry: InstanceType, tp: int, batch: int,
                                       context_tokens: int) -> float:
    """Memory-bandwidth bound on a replica's decode throughput with `batch` sequences in flight.

    Weights are read once per step for the whole batch, each sequence's KV once: still an
    upper bound, and optimistic at large batches where compute, not bandwidth, limits.
    """
    if batch < 1:
        raise ValueError(f"batch: expected >= 1, got {batch}")
    steps_per_s = entry.memory_bandwidth_gb_s * 1e9 / bytes_read_per_step(shape, tp, batch, context_tokens)
    return batch * steps_per_s


# --- published shapes -------------------------------------------------------------------------


def _hf(repo: str) -> Source:
    return Source(f"https://huggingface.co/{repo}/blob/main/config.json", "2026-11-22",
                  "config.json values; parameter count from the model card / safetensors index")


LLAMA_3_1_8B = ModelShape(
    name="Llama-3.1-8B", params_billion=8.030261248, layers=32, attention_heads=32, kv_heads=8, head_dim=128,
    hidden_size=4096, intermediate_size=14336, vocab_size=128256, max_context=131072,
    source=_hf("meta-llama/Llama-3.1-8B"),
)
LLAMA_3_1_70B = ModelShape(
    name="Llama-3.1-70B", params_billion=70.553706496, layers=80, attention_heads=64, kv_heads=8, head_dim=128,
    hidden_size=8192, intermediate_size=28672, vocab_size=128256, max_context=131072,
    source=_hf("meta-llama/Llama-3.1-70B"),
)
MISTRAL_7B = ModelShape(
    name="Mistral-7B-v0.3", params_billion=7.248023552, layers=32, attention_heads=32, kv_heads=8, head_dim=128,
    hidden_size=4096, intermediate_size=14336, vocab_size=32768, max_context=32768,
    source=_hf("mistralai/Mistral-7B-v0.3"),
)
LLAMA_3_2_1B = ModelShape(
    name="Llama-3.2-1B", params_billion=1.2358144, layers=16, attention_heads=32, kv_heads=8, head_dim=64,
    hidden_size=2048, intermediate_size=8192, vocab_size=128256, max_context=131072, tie_word_embeddings=True,
    source=_hf("meta-llama/Llama-3.2-1B"),
)
TINYLLAMA_1_1B = ModelShape(
    name="TinyLlama-1.1B", params_billion=1.100048384, layers=22, attention_heads=32, kv_heads=4, head_dim=64,
    hidden_size=2048, intermediate_size=5632, vocab_size=32000, max_context=2048,
    source=_hf("TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
)

KNOWN_SHAPES: dict[str, ModelShape] = {
    s.name: s for s in (LLAMA_3_1_8B, LLAMA_3_1_70B, MISTRAL_7B, LLAMA_3_2_1B, TINYLLAMA_1_1B)
}
"""Published shapes, served by default with their full context and one sequence; use
`shape.serving(max_context=..., max_concurrent_seqs=...)` for a serving plan."""


__all__ = [
    "CUDA_OVERHEAD_GIB", "DEFAULT_MAX_BATCHED_TOKENS", "GPU_MEMORY_UTILIZATION", "KNOWN_SHAPES", "KV_CACHE_BYTES",
    "LLAMA_3_1_70B", "LLAMA_3_1_8B", "LLAMA_3_2_1B", "MISTRAL_7B", "TENSOR_PARALLEL_DEGREES", "TINYLLAMA_1_1B",
    "WEIGHT_BYTES", "CapacityError", "Choice", "Fit", "MemoryBreakdown", "ModelShape", "activation_bytes",
    "bytes_read_per_step", "choose_instance", "decode_tokens_per_s_bound_at_batch", "decode_tokens_per_s_upper_bound",
    "fit", "kv_bytes_per_token", "kv_cache_bytes", "memory_per_gpu", "required_gib", "valid_tensor_parallel",
    "weight_bytes",
]
