"""The generated Triton model repository, checked against Triton's own ModelConfig schema."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from google.protobuf import text_format
from hypothesis import given, settings
from hypothesis import strategies as st
from tritonclient.grpc import model_config_pb2 as pb

import llm_infra
from llm_infra.config import BatchingConfig, ConfigError, ModelConfig
from llm_infra.triton.model_repository import (
    build_model_config,
    builtin_python_models,
    render_model_repository,
    write_model_repository,
)

TOY = "builtin:toy_llm"


def model(backend: str = "python", **overrides) -> ModelConfig:
    fields = {
        "name": "toy",
        "backend": backend,
        "weights_uri": "s3://models-bucket/toy",
        "weights_size_gib": 1.0,
        "gpu_pool": "gpu",
    }
    if backend == "python":
        fields["python_model"] = TOY
    fields.update(overrides)
    return ModelConfig(**fields)


def parse(pbtxt: str) -> pb.ModelConfig:
    return text_format.Parse(pbtxt, pb.ModelConfig())


def parameters(config: pb.ModelConfig) -> dict[str, str]:
    return {k: v.string_value for k, v in config.parameters.items()}


# -- strategies -------------------------------------------------------------------

names = st.from_regex(r"\A[a-z][a-z0-9-]{0,20}[a-z0-9]\Z")


@st.composite
def batchings(draw) -> BatchingConfig:
    max_batch_size = draw(st.integers(1, 4096))
    return BatchingConfig(
        max_batch_size=max_batch_size,
        max_queue_delay_us=draw(st.integers(0, 1_000_000)),
        preferred_batch_sizes=draw(st.lists(st.integers(1, max_batch_size), max_size=4, unique=True)),
        instance_count=draw(st.integers(1, 16)),
    )


engine_arg_values = st.one_of(
    st.booleans(), st.integers(-(2**31), 2**31), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
)
OWNED = {"model", "tensor_parallel_size", "max_num_seqs", "gpt_model_path", "gpt_model_type", "max_beam_width", "weights_dir"}
engine_arg_keys = st.from_regex(r"\A[a-z][a-z_]{0,15}\Z").filter(lambda k: k not in OWNED)


@st.composite
def models(draw, backend: str | None = None) -> ModelConfig:
    backend = backend or draw(st.sampled_from(["vllm", "tensorrtllm", "python"]))
    return model(
        backend,
        name=draw(names),
        gpus_per_replica=draw(st.integers(1, 8)),
        batching=draw(batchings()),
        engine_args=draw(st.dictionaries(engine_arg_keys, engine_arg_values, max_size=4)),
    )


weights_dirs = st.from_regex(r"\A/[a-z0-9_/-]{1,30}\Z")


# -- every backend ----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(models(), weights_dirs)
def test_config_pbtxt_parses_back_into_the_model_config_it_was_built_from(spec, weights_dir):
    files = render_model_repository(spec, weights_dir=weights_dir)
    parsed = parse(files["config.pbtxt"])
    assert parsed == build_model_config(spec, weights_dir=weights_dir)
    assert parsed.name == spec.name
    assert parsed.backend == spec.backend
    # The text is exactly what protobuf's own printer writes: no hand-made template.
    assert files["config.pbtxt"] == text_format.MessageToString(parsed)


@settings(max_examples=50, deadline=None)
@given(models())
def test_rendering_is_deterministic(spec):
    assert render_model_repository(spec) == render_model_repository(spec)


def test_each_backend_renders_exactly_its_files():
    assert set(render_model_repository(model("vllm"))) == {"config.pbtxt", "1/model.json"}
    assert set(render_model_repository(model("tensorrtllm"))) == {"config.pbtxt"}
    assert set(render_model_repository(model("python"))) == {"config.pbtxt", "1/model.py"}


# -- vLLM -------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(models("vllm"), weights_dirs)
def test_vllm_is_decoupled_reports_its_metrics_and_batches_itself(spec, weights_dir):
    files = render_model_repository(spec, weights_dir=weights_dir)
    config = parse(files["config.pbtxt"])
    assert config.model_transaction_policy.decoupled is True
    assert parameters(config)["REPORT_CUSTOM_METRICS"] == "true"
    assert config.max_batch_size == 0
    assert not config.HasField("dynamic_batching")
    assert [(g.count, g.kind) for g in config.instance_group] == [(1, pb.ModelInstanceGroup.KIND_MODEL)]

    engine = json.loads(files["1/model.json"])
    assert engine["tensor_parallel_size"] == spec.gpus_per_replica
    assert engine["model"] == weights_dir
    assert engine["max_num_seqs"] == spec.batching.max_batch_size
    assert engine["disable_log_requests"] is True
    for key, value in spec.engine_args.items():
        assert engine[key] == value


def test_vllm_engine_defaults_keep_metrics_on_and_leave_gpu_headroom():
    engine = json.loads(render_model_repository(model("vllm"))["1/model.json"])
    assert engine["model"] == "/cache/weights"
    assert engine["gpu_memory_utilization"] == 0.9
    # The vLLM backend only reports its metrics when log stats are on.
    assert engine["disable_log_stats"] is False


def test_vllm_user_engine_args_override_our_defaults():
    spec = model("vllm", engine_args={"gpu_memory_utilization": 0.75, "enforce_eager": True})
    engine = json.loads(render_model_repository(spec)["1/model.json"])
    assert engine["gpu_memory_utilization"] == 0.75
    assert engine["enforce_eager"] is True


# -- TensorRT-LLM ---------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(models("tensorrtllm"), weights_dirs)
def test_tensorrtllm_batches_in_flight_with_the_spec_batch_size(spec, weights_dir):
    config = parse(render_model_repository(spec, weights_dir=weights_dir)["config.pbtxt"])
    params = parameters(config)
    assert params["gpt_model_type"] == "inflight_fused_batching"
    assert params["gpt_model_path"] == f"{weights_dir}/engine"
    assert config.max_batch_size == spec.batching.max_batch_size
    assert config.model_transaction_policy.decoupled is True
    assert config.dynamic_batching.max_queue_delay_microseconds == spec.batching.max_queue_delay_us
    for key, value in spec.engine_args.items():
        expected = ("true" if value else "false") if isinstance(value, bool) else str(value)
        assert params[key] == expected


def test_tensorrtllm_has_the_backend_inputs_and_outputs():
    config = parse(render_model_repository(model("tensorrtllm"))["config.pbtxt"])
    inputs = {i.name: i for i in config.input}
    outputs = {o.name: o for o in config.output}
    for required in ("input_ids", "input_lengths", "request_output_len"):
        assert not inputs[required].optional
        assert inputs[required].data_type == pb.TYPE_INT32
    assert inputs["input_ids"].allow_ragged_batch
    for optional in ("end_id", "pad_id"):
        assert inputs[optional].optional
        assert inputs[optional].HasField("reshape") and list(inputs[optional].reshape.shape) == []
    assert {"output_ids", "sequence_length"} <= set(outputs)
    assert list(outputs["output_ids"].dims) == [-1, -1]


def test_tensorrtllm_in_flight_batching_defaults():
    params = parameters(parse(render_model_repository(model("tensorrtllm"))["config.pbtxt"]))
    assert params["batch_scheduler_policy"] == "guaranteed_no_evict"
    assert params["kv_cache_free_gpu_mem_fraction"] == "0.9"
    assert params["enable_chunked_context"] == "false"
    assert params["max_beam_width"] == "1"
    assert params["gpt_model_path"] == "/cache/weights/engine"  # trtllm-build output; tokenizer/ beside it


def test_tensorrtllm_user_engine_args_become_string_parameters():
    spec = model("tensorrtllm", engine_args={"enable_chunked_context": True, "kv_cache_free_gpu_mem_fraction": 0.8})
    params = parameters(parse(render_model_repository(spec)["config.pbtxt"]))
    assert params["enable_chunked_context"] == "true"
    assert params["kv_cache_free_gpu_mem_fraction"] == "0.8"


# -- python ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(models("python"), weights_dirs)
def test_python_model_uses_the_dynamic_batcher_with_the_configured_delay(spec, weights_dir):
    config = parse(render_model_repository(spec, weights_dir=weights_dir, instance_kind="KIND_CPU")["config.pbtxt"])
    assert config.max_batch_size == spec.batching.max_batch_size
    assert config.HasField("dynamic_batching")
    assert config.dynamic_batching.max_queue_delay_microseconds == spec.batching.max_queue_delay_us
    assert list(config.dynamic_batching.preferred_batch_size) == spec.batching.preferred_batch_sizes
    assert [(g.count, g.kind) for g in config.instance_group] == [
        (spec.batching.instance_count, pb.ModelInstanceGroup.KIND_CPU)
    ]
    params = parameters(config)
    assert params["weights_dir"] == weights_dir
    assert set(params) == {"weights_dir", *spec.engine_args}


def test_python_model_instances_default_to_gpus():
    config = build_model_config(model("python"))
    assert [g.kind for g in config.instance_group] == [pb.ModelInstanceGroup.KIND_GPU]


def test_python_model_instance_kind_accepts_the_enum_value_or_its_name():
    by_value = build_model_config(model("python"), instance_kind=pb.ModelInstanceGroup.KIND_CPU)
    by_name = build_model_config(model("python"), instance_kind="KIND_CPU")
    assert by_value == by_name
    with pytest.raises(ValueError, match="instance_kind: expected one of .*got 'cpu'"):
        build_model_config(model("python"), instance_kind="cpu")


def test_python_model_inputs_and_outputs():
    config = build_model_config(model("python"))
    inputs = {i.name: i for i in config.input}
    assert (inputs["text_input"].data_type, list(inputs["text_input"].dims), inputs["text_input"].optional) == (
        pb.TYPE_STRING, [1], False,
    )
    assert (inputs["max_tokens"].data_type, list(inputs["max_tokens"].dims), inputs["max_tokens"].optional) == (
        pb.TYPE_INT32, [1], True,
    )
    assert [(o.name, o.data_type, list(o.dims)) for o in config.output] == [("text_output", pb.TYPE_STRING, [1])]
    assert not config.model_transaction_policy.decoupled


def test_python_builtin_model_is_the_shipped_file():
    shipped = Path(llm_infra.__file__).parent / "triton" / "models" / "toy_llm.py"
    assert "toy_llm" in builtin_python_models()
    assert render_model_repository(model("python"))["1/model.py"] == shipped.read_text()


def test_python_model_file_path_is_copied(tmp_path, monkeypatch):
    (tmp_path / "my_model.py").write_text("class TritonPythonModel:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    files = render_model_repository(model("python", python_model="my_model.py"))
    assert files["1/model.py"] == "class TritonPythonModel:\n    pass\n"


def test_python_model_missing_file_names_the_field(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="python_model: file not found: missing/model.py"):
        render_model_repository(model("python", python_model="missing/model.py"))


def test_python_model_unknown_builtin_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match=r"python_model: expected one of \['builtin:toy_llm'.*got 'builtin:nope'"):
        render_model_repository(model("python", python_model="builtin:nope"))


def test_python_model_weights_dir_cannot_be_overridden_by_engine_args():
    with pytest.raises(ConfigError, match="engine_args.weights_dir: expected to be left out"):
        render_model_repository(model("python", engine_args={"weights_dir": "/elsewhere"}))


# -- writing --------------------------------------------------------------------------


def test_write_model_repository_lays_out_one_directory_per_model(tmp_path):
    specs = [model("python", name="toy"), model("vllm", name="chat"), model("tensorrtllm", name="fast")]
    root = write_model_repository(specs, tmp_path / "repo")
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert written == [
        "chat/1/model.json", "chat/config.pbtxt",
        # TensorRT-LLM: the engine model, its tokenizer models and the text ensemble clients call.
        "fast-postprocessing/1/model.py", "fast-postprocessing/config.pbtxt",
        "fast-preprocessing/1/model.py", "fast-preprocessing/config.pbtxt",
        "fast-text/1/.keep", "fast-text/config.pbtxt",
        "fast/config.pbtxt", "toy/1/model.py", "toy/config.pbtxt",
    ]
    for spec in specs:
        assert parse((root / spec.name / "config.pbtxt").read_text()).name == spec.name


def test_write_model_repository_writes_nothing_when_a_model_is_bad(tmp_path):
    specs = [model("python", name="good"), model("python", name="bad", python_model="nope.py")]
    with pytest.raises(ConfigError):
        write_model_repository(specs, tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


# -- no string templates ---------------------------------------------------------------

# Fragments of the pbtxt syntax that only a hand-made template would contain.
_PBTXT_FRAGMENT = re.compile(
    r"max_batch_size\s*:\s*[\d{$]|instance_group\s*[\[{]|dynamic_batching\s*\{|"
    r"model_transaction_policy\s*\{|string_value\s*:|data_type\s*:\s*TYPE_|\bkind\s*:\s*KIND_"
)


def _non_docstring_strings(tree: ast.AST) -> list[tuple[int, str]]:
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_library_file_builds_config_pbtxt_from_a_string_template():
    package = Path(llm_infra.__file__).parent
    offenders = [str(p.relative_to(package)) for p in package.rglob("*") if p.suffix in {".pbtxt", ".tmpl", ".j2", ".jinja"}]
    for source in package.rglob("*.py"):
        for lineno, text in _non_docstring_strings(ast.parse(source.read_text(), filename=str(source))):
            if _PBTXT_FRAGMENT.search(text):
                offenders.append(f"{source.relative_to(package)}:{lineno}: {text[:60]!r}")
    assert offenders == []


def test_the_template_detector_catches_a_template():
    template = 'TEMPLATE = """\nname: "{name}"\nmax_batch_size: {max_batch_size}\ninstance_group [ { kind: KIND_GPU } ]\n"""\n'
    assert any(_PBTXT_FRAGMENT.search(text) for _, text in _non_docstring_strings(ast.parse(template)))
    assert any(_PBTXT_FRAGMENT.search(text) for _, text in _non_docstring_strings(ast.parse('f"string_value: {v}"')))
