"""The Triton model repository generated from a model spec: config.pbtxt and the files beside it.

Every `config.pbtxt` is a `model_config_pb2.ModelConfig` message, built with Triton's own
protobuf schema and serialized with `text_format`, so a field that Triton does not know
is a Python error here rather than a model that fails to load on a GPU node.

Layout of one model (Triton's repository layout, version 1 only):

    <model.name>/config.pbtxt
    <model.name>/1/model.json   vllm: the engine arguments of the vLLM backend
    <model.name>/1/model.py     python: the user's TritonPythonModel (or a shipped one)

TensorRT-LLM models get companions (`companion_models`): `<name>-preprocessing` and
`<name>-postprocessing` (tokenizer) and the `<name>-text` ensemble that takes text.

The weights are not part of the repository: the workload syncs them into the model
cache, and the generated files point there (`weights_dir`, `/cache/weights` by default).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from llm_infra.config import ConfigError, EngineArgValue, ModelConfig
from llm_infra.triton import upstream

DEFAULT_WEIGHTS_DIR = "/cache/weights"
"""Where the workload puts a model's weights (the model cache volume)."""

BUILTIN_PREFIX = "builtin:"
"""`python_model: builtin:<name>` selects a model shipped in `llm_infra/triton/models/<name>.py`."""

BUILTIN_MODELS_DIR = Path(__file__).parent / "models"

VERSION = "1"

# vLLM engine arguments we set unless the user overrides them. `disable_log_stats: false`
# is what lets the backend report vLLM's own metrics (REPORT_CUSTOM_METRICS needs both).
_VLLM_DEFAULT_ENGINE_ARGS: dict[str, EngineArgValue] = {
    "disable_log_requests": True,
    "disable_log_stats": False,
    "gpu_memory_utilization": 0.9,
}

# TensorRT-LLM backend parameters we set unless the user overrides them (names as in
# tensorrtllm_backend's all_models/inflight_batcher_llm/tensorrt_llm/config.pbtxt).
# guaranteed_no_evict never pauses a started request to make room in the KV cache;
# chunked context stays off because it needs an engine built with paged context FMHA.
_TRTLLM_DEFAULT_PARAMETERS: dict[str, str] = {
    "batch_scheduler_policy": "guaranteed_no_evict",
    "kv_cache_free_gpu_mem_fraction": "0.9",
    "enable_chunked_context": "false",
    "enable_kv_cache_reuse": "false",
    "exclude_input_in_output": "true",
    "FORCE_CPU_ONLY_INPUT_TENSORS": "no",
}

# Parameters of python models that llm-infra derives itself.
_PYTHON_OWNED_PARAMETERS = frozenset({"weights_dir"})


def build_model_config(
    model: ModelConfig,
    *,
    weights_dir: str = DEFAULT_WEIGHTS_DIR,
    instance_kind: int | str = pb.ModelInstanceGroup.KIND_GPU,
) -> pb.ModelConfig:
    """The `config.pbtxt` of one model as Triton's ModelConfig message.

    `weights_dir` is where the weights (or the TensorRT-LLM engine) lie inside the
    container. `instance_kind` (`KIND_GPU`, `KIND_CPU`, ... as the enum value or its
    name) applies to python models only: vLLM and TensorRT-LLM place their own work on
    the GPUs. Defaults to `KIND_GPU`, what a GPU workload wants; tests on CPU machines
    ask for `KIND_CPU`.
    """
    config = pb.ModelConfig(name=model.name, backend=model.backend)
    if model.backend == "vllm":
        _vllm(config)
    elif model.backend == "tensorrtllm":
        _tensorrtllm(config, model, weights_dir)
    else:
        _python(config, model, weights_dir, _instance_kind(instance_kind))
    return config


def vllm_engine_args(model: ModelConfig, *, weights_dir: str = DEFAULT_WEIGHTS_DIR) -> dict[str, EngineArgValue]:
    """The vLLM backend's `1/model.json`: engine arguments for `AsyncEngineArgs`."""
    args: dict[str, EngineArgValue] = {
        "model": weights_dir,
        "tensor_parallel_size": model.gpus_per_replica,
        "max_num_seqs": model.batching.max_batch_size,
        **_VLLM_DEFAULT_ENGINE_ARGS,
    }
    if model.gpus_per_replica > 1:
        # Ray, as the vllm_backend's own multi-GPU CI runs it (ci/L0_multi_gpu_vllm/vllm_backend/
        # test.sh@r26.01:127); its workers leave with the engine when Triton unloads the model.
        args["distributed_executor_backend"] = "ray"
    if model.max_context is not None:
        # One source for the context length: the capacity check and the engine agree.
        args["max_model_len"] = model.max_context
    if model.weight_dtype == "fp8":
        # vLLM quantizes a bf16/fp16 checkpoint to FP8 at load; int8/int4 checkpoints carry
        # their own quantization config, which vLLM reads from the weights.
        args["quantization"] = "fp8"
    # config.py rejects user keys that we derive, so the merge cannot undo them.
    args.update(model.engine_args)
    return args


def render_model_repository(
    model: ModelConfig,
    *,
    weights_dir: str = DEFAULT_WEIGHTS_DIR,
    instance_kind: int | str = pb.ModelInstanceGroup.KIND_GPU,
) -> dict[str, str]:
    """Files of one model's repository directory: relative path -> content.

    Always `config.pbtxt`; `1/model.json` for vLLM; `1/model.py` for python models,
    read from `model.python_model` (`builtin:<name>` or a file path; relative paths
    resolve against the current working directory).
    """
    config = build_model_config(model, weights_dir=weights_dir, instance_kind=instance_kind)
    files = {"config.pbtxt": text_format.MessageToString(config)}
    if model.backend == "vllm":
        files[f"{VERSION}/model.json"] = json.dumps(vllm_engine_args(model, weights_dir=weights_dir), indent=2, sort_keys=True) + "\n"
    elif model.backend == "python":
        files[f"{VERSION}/model.py"] = _python_model_source(model.python_model or "")
    return files


def write_model_repository(
    models: Iterable[ModelConfig],
    directory: str | Path,
    *,
    weights_dir: str = DEFAULT_WEIGHTS_DIR,
    instance_kind: int | str = pb.ModelInstanceGroup.KIND_GPU,
) -> Path:
    """Write `<directory>/<model.name>/...` for every model; returns the directory.

    Every model is rendered before anything is written, so a bad spec leaves no
    half-written repository behind.
    """
    root = Path(directory)
    rendered: dict[str, dict[str, str]] = {}
    for m in models:
        rendered[m.name] = render_model_repository(m, weights_dir=weights_dir, instance_kind=instance_kind)
        rendered.update(companion_models(m, weights_dir=weights_dir))
    for name, files in rendered.items():
        for relative, content in files.items():
            path = root / name / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    return root


def builtin_python_models() -> list[str]:
    """Names usable as `python_model: builtin:<name>`."""
    return sorted(p.stem for p in BUILTIN_MODELS_DIR.glob("*.py") if not p.name.startswith("_"))


def _vllm(config: pb.ModelConfig) -> None:
    # vLLM batches in flight itself: Triton hands it requests one by one (max_batch_size 0),
    # one instance drives every GPU of the replica (KIND_MODEL), and it streams responses.
    config.max_batch_size = 0
    config.instance_group.add(count=1, kind=pb.ModelInstanceGroup.KIND_MODEL)
    config.model_transaction_policy.decoupled = True
    # The value the pinned vllm_backend compares with (r24.10 wanted "yes", r24.12 on "true").
    # ENABLE_VLLM_HEALTH_CHECK: a dead engine unloads the model (the server runs in explicit
    # model-control mode for vLLM), so the pod's probes see it.
    _set_parameters(config, {
        "REPORT_CUSTOM_METRICS": upstream.parameter_on_value("vllm", "REPORT_CUSTOM_METRICS"),
        "ENABLE_VLLM_HEALTH_CHECK": upstream.parameter_on_value("vllm", "ENABLE_VLLM_HEALTH_CHECK"),
    })


def _tensorrtllm(config: pb.ModelConfig, model: ModelConfig, weights_dir: str) -> None:
    batching = model.batching
    config.max_batch_size = batching.max_batch_size
    config.model_transaction_policy.decoupled = True
    config.dynamic_batching.max_queue_delay_microseconds = batching.max_queue_delay_us
    config.dynamic_batching.preferred_batch_size.extend(batching.preferred_batch_sizes or [batching.max_batch_size])
    # The backend's executor owns the GPUs (and the tensor-parallel ranks): one CPU-side
    # instance, as in the backend's reference config.
    config.instance_group.add(count=1, kind=pb.ModelInstanceGroup.KIND_CPU)

    scalar: list[int] = []
    _input(config, "input_ids", pb.TYPE_INT32, [-1], allow_ragged_batch=True)
    _input(config, "input_lengths", pb.TYPE_INT32, [1], reshape=scalar)
    _input(config, "request_output_len", pb.TYPE_INT32, [1])
    for name in ("end_id", "pad_id", "beam_width", "runtime_top_k", "min_length"):
        _input(config, name, pb.TYPE_INT32, [1], reshape=scalar, optional=True)
    for name in ("temperature", "runtime_top_p", "repetition_penalty", "presence_penalty", "frequency_penalty"):
        _input(config, name, pb.TYPE_FP32, [1], reshape=scalar, optional=True)
    _input(config, "random_seed", pb.TYPE_UINT64, [1], reshape=scalar, optional=True)
    _input(config, "stop_words_list", pb.TYPE_INT32, [2, -1], allow_ragged_batch=True, optional=True)
    _input(config, "bad_words_list", pb.TYPE_INT32, [2, -1], allow_ragged_batch=True, optional=True)
    _input(config, "streaming", pb.TYPE_BOOL, [1], optional=True)
    _input(config, "stop", pb.TYPE_BOOL, [1], optional=True)
    config.output.add(name="output_ids", data_type=pb.TYPE_INT32, dims=[-1, -1])
    config.output.add(name="sequence_length", data_type=pb.TYPE_INT32, dims=[-1])

    parameters = {
        "gpt_model_type": "inflight_fused_batching",
        "gpt_model_path": trtllm_engine_dir(weights_dir),
        "max_beam_width": "1",
        **_TRTLLM_DEFAULT_PARAMETERS,
    }
    if model.gpus_per_replica > 1:
        # Orchestrator mode (the workload sets TRTLLM_ORCHESTRATOR=1) spawns this worker per rank.
        parameters["executor_worker_path"] = upstream.parameter_on_value("tensorrtllm", "executor_worker_path")
    parameters.update({k: _parameter_value(v) for k, v in model.engine_args.items()})
    _set_parameters(config, parameters)


def trtllm_engine_dir(weights_dir: str) -> str:
    """Where a TensorRT-LLM model's engine (trtllm-build's output) lies in the synced weights."""
    return f"{weights_dir}/engine"


def trtllm_tokenizer_dir(weights_dir: str) -> str:
    """Where a TensorRT-LLM model's Hugging Face tokenizer (tokenizer.json) lies in the synced weights."""
    return f"{weights_dir}/tokenizer"


TRTLLM_SAMPLING_INPUTS = {"temperature": "temperature", "top_p": "runtime_top_p",
                          "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty"}
"""The `<model>-text` ensemble's sampling inputs (the names Triton's OpenAI frontend sends) -> the
`tensorrt_llm` model's inputs they feed (the names the generated engine config declares above)."""

TEXT_SUFFIX = "-text"
"""The ensemble clients send text to: `<model>-text` (tensorrtllm models)."""


def companion_models(
    model: ModelConfig,
    *,
    weights_dir: str = DEFAULT_WEIGHTS_DIR,
    instance_kind: int | str = pb.ModelInstanceGroup.KIND_CPU,
) -> dict[str, dict[str, str]]:
    """Models served beside the model itself: directory name -> files (relative paths).

    TensorRT-LLM takes token ids; for clients that send text, `<model>-preprocessing`
    (tokenizer, and the engine checked against the image's TensorRT-LLM version and the
    replica's tensor parallelism at load), `<model>-postprocessing` and the `<model>-text`
    ensemble chaining them. Other backends take text themselves: none.
    """
    if model.backend != "tensorrtllm":
        return {}
    from llm_infra.triton import upstream

    kind = _instance_kind(instance_kind)
    batch = model.batching.max_batch_size
    tokenizer_dir = trtllm_tokenizer_dir(weights_dir)
    pre_name, post_name, text_name = f"{model.name}-preprocessing", f"{model.name}-postprocessing", model.name + TEXT_SUFFIX

    pre = pb.ModelConfig(name=pre_name, backend="python", max_batch_size=batch)
    pre.instance_group.add(count=1, kind=kind)
    _input(pre, "text_input", pb.TYPE_STRING, [1])
    _input(pre, "max_tokens", pb.TYPE_INT32, [1], optional=True)
    for name, dims in (("input_ids", [-1]), ("input_lengths", [1]), ("request_output_len", [1]),
                       ("end_id", [1]), ("pad_id", [1])):
        pre.output.add(name=name, data_type=pb.TYPE_INT32, dims=dims)
    _set_parameters(pre, {
        "tokenizer_dir": tokenizer_dir,
        "engine_dir": trtllm_engine_dir(weights_dir),
        "expected_trtllm_version": upstream.RELEASES["tensorrtllm"].engine.split()[-1],
        "expected_tp_size": str(model.gpus_per_replica),
        "default_max_tokens": "256",
    })

    post = pb.ModelConfig(name=post_name, backend="python", max_batch_size=batch)
    post.instance_group.add(count=1, kind=kind)
    _input(post, "output_ids", pb.TYPE_INT32, [-1, -1])
    _input(post, "sequence_length", pb.TYPE_INT32, [-1])
    post.output.add(name="text_output", data_type=pb.TYPE_STRING, dims=[-1])
    _set_parameters(post, {"tokenizer_dir": tokenizer_dir})

    text = pb.ModelConfig(name=text_name, platform="ensemble", max_batch_size=batch)
    _input(text, "text_input", pb.TYPE_STRING, [1])
    # Optional: Triton's OpenAI frontend sends max_tokens only when the request sets it (preprocessing
    # then uses default_max_tokens), and always sends the sampling inputs (llm_infra.triton.openai.
    # TRTLLM_REQUEST_INPUTS): Triton refuses a request carrying an input the ensemble does not declare.
    _input(text, "max_tokens", pb.TYPE_INT32, [1], optional=True)
    _input(text, "stream", pb.TYPE_BOOL, [1], optional=True)
    for name in TRTLLM_SAMPLING_INPUTS:
        _input(text, name, pb.TYPE_FP32, [1], optional=True)
    _input(text, "random_seed", pb.TYPE_UINT64, [1], optional=True)
    text.output.add(name="text_output", data_type=pb.TYPE_STRING, dims=[-1])
    steps = text.ensemble_scheduling.step
    step = steps.add(model_name=pre_name, model_version=-1)
    step.input_map.update({"text_input": "text_input", "max_tokens": "max_tokens"})
    step.output_map.update({k: f"_{k}" for k in ("input_ids", "input_lengths", "request_output_len", "end_id", "pad_id")})
    step = steps.add(model_name=model.name, model_version=-1)
    step.input_map.update({k: f"_{k}" for k in ("input_ids", "input_lengths", "request_output_len", "end_id", "pad_id")})
    step.input_map["streaming"] = "stream"
    step.input_map.update({engine: name for name, engine in TRTLLM_SAMPLING_INPUTS.items()})
    step.input_map["random_seed"] = "random_seed"
    step.output_map.update({"output_ids": "_output_ids", "sequence_length": "_sequence_length"})
    step = steps.add(model_name=post_name, model_version=-1)
    step.input_map.update({"output_ids": "_output_ids", "sequence_length": "_sequence_length"})
    step.output_map["text_output"] = "text_output"

    def source(name: str) -> str:
        return (BUILTIN_MODELS_DIR / f"_trtllm_{name}.py").read_text(encoding="utf-8")

    return {
        pre_name: {"config.pbtxt": text_format.MessageToString(pre), f"{VERSION}/model.py": source("preprocessing")},
        post_name: {"config.pbtxt": text_format.MessageToString(post), f"{VERSION}/model.py": source("postprocessing")},
        # An ensemble needs its (empty) version directory.
        text_name: {"config.pbtxt": text_format.MessageToString(text), f"{VERSION}/.keep": ""},
    }


def _python(config: pb.ModelConfig, model: ModelConfig, weights_dir: str, kind: int) -> None:
    batching = model.batching
    config.max_batch_size = batching.max_batch_size
    config.dynamic_batching.max_queue_delay_microseconds = batching.max_queue_delay_us
    config.dynamic_batching.preferred_batch_size.extend(batching.preferred_batch_sizes)
    config.instance_group.add(count=batching.instance_count, kind=kind)
    _input(config, "text_input", pb.TYPE_STRING, [1])
    _input(config, "max_tokens", pb.TYPE_INT32, [1], optional=True)
    # What Triton's OpenAI frontend sends every model but vLLM ones (llm_infra.triton.openai.OTHER_REQUEST_INPUTS
    # and OTHER_OPTIONAL_INPUTS, engine/utils/triton.py@v2.65.0:187-248): Triton refuses a request carrying an
    # input the model does not declare. The toy model reads none of these.
    _input(config, "stream", pb.TYPE_BOOL, [1], optional=True)
    for name in ("top_p", "frequency_penalty", "presence_penalty", "temperature"):
        _input(config, name, pb.TYPE_FP32, [1], optional=True)
    _input(config, "return_num_input_tokens", pb.TYPE_BOOL, [1], optional=True)
    _input(config, "return_num_output_tokens", pb.TYPE_BOOL, [1], optional=True)
    _input(config, "stop_words", pb.TYPE_STRING, [-1], optional=True)
    _input(config, "seed", pb.TYPE_UINT64, [1], optional=True)
    config.output.add(name="text_output", data_type=pb.TYPE_STRING, dims=[1])

    owned = sorted(_PYTHON_OWNED_PARAMETERS & set(model.engine_args))
    if owned:
        raise ConfigError(
            f"engine_args.{owned[0]}: expected to be left out: llm-infra derives it from the model spec, "
            f"got {model.engine_args[owned[0]]!r}"
        )
    parameters = {"weights_dir": weights_dir}
    parameters.update({k: _parameter_value(v) for k, v in model.engine_args.items()})
    _set_parameters(config, parameters)


def _input(
    config: pb.ModelConfig,
    name: str,
    data_type: int,
    dims: list[int],
    *,
    reshape: list[int] | None = None,
    optional: bool = False,
    allow_ragged_batch: bool = False,
) -> None:
    tensor = config.input.add(
        name=name, data_type=data_type, dims=dims, optional=optional, allow_ragged_batch=allow_ragged_batch
    )
    if reshape is not None:
        # An empty shape still has to be present: it is what makes [1] a scalar.
        tensor.reshape.SetInParent()
        tensor.reshape.shape.extend(reshape)


def _set_parameters(config: pb.ModelConfig, parameters: Mapping[str, str]) -> None:
    for key in sorted(parameters):
        config.parameters[key].string_value = parameters[key]


def _parameter_value(value: EngineArgValue) -> str:
    # Triton parameters are strings; backends parse booleans from lowercase "true"/"false".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _instance_kind(kind: int | str) -> int:
    names = pb.ModelInstanceGroup.Kind.keys()
    if isinstance(kind, str):
        if kind not in names:
            raise ValueError(f"instance_kind: expected one of {names}, got {kind!r}")
        return pb.ModelInstanceGroup.Kind.Value(kind)
    if kind not in pb.ModelInstanceGroup.Kind.values():
        raise ValueError(f"instance_kind: expected one of {names}, got {kind!r}")
    return kind


def _python_model_source(python_model: str) -> str:
    if python_model.startswith(BUILTIN_PREFIX):
        name = python_model[len(BUILTIN_PREFIX):]
        available = builtin_python_models()
        if name not in available:
            raise ConfigError(f"python_model: expected one of {[BUILTIN_PREFIX + n for n in available]} or a file path, got {python_model!r}")
        return (BUILTIN_MODELS_DIR / f"{name}.py").read_text(encoding="utf-8")
    path = Path(python_model)
    if not path.is_file():
        raise ConfigError(f"python_model: file not found: {python_model}")
    return path.read_text(encoding="utf-8")
