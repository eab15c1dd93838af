"""Triton's OpenAI-compatible frontend: the Triton container's command line, its port and what it serves.

The pinned images ship the frontend at `/opt/tritonserver/python/openai` with its requirements and
the `tritonserver`/`tritonfrontend` wheels installed (server build.py@v2.65.0:1250-1256 and
:2017-2019; the same lines at v2.58.0 for the TensorRT-LLM image). `openai_frontend/main.py`
starts Triton in-process on the model repository, serves the OpenAI API on `--openai-port`
and, with `--enable-kserve-frontends`, Triton's KServe v2 HTTP and gRPC frontends on the
usual ports of the same server (main.py@v2.65.0:63-83, 199-270).

Every flag the generated command uses is a row of `FLAGS`, read from the frontend's argument
parser at the tag each pinned image builds; tests hold the command to the table.

What the frontend does not offer that the plain `tritonserver` command set (`llm_infra.triton.args`),
and what replaces it, is `REPLACED`: nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_infra.config import ModelConfig
from llm_infra.triton import upstream
from llm_infra.triton.args import GRPC_PORT, HTTP_PORT
from llm_infra.triton.model_repository import trtllm_tokenizer_dir

OPENAI_PORT = 9000
"""The frontend's default `--openai-port` (main.py@v2.65.0:157), kept."""

FRONTEND_DIR = "/opt/tritonserver/python/openai"
FRONTEND_MAIN = f"{FRONTEND_DIR}/openai_frontend/main.py"
"""Where the pinned images hold the frontend (server build.py@v2.65.0:2017-2019 copies python/openai to
/opt/tritonserver/python; python/openai/README.md@v2.65.0:54 runs it from there)."""

_SERVER = "triton-inference-server/server"
_MAIN = "python/openai/openai_frontend/main.py"


@dataclass(frozen=True)
class Flag:
    name: str
    takes_value: bool
    required: bool
    default: str | None
    line: int
    """Line of the flag's name in main.py at the tag."""


# The argument parser of main.py at the tag each pinned image builds (read 2026-12-01 with
# `git -C <mirror of triton-inference-server/server> show <tag>:python/openai/openai_frontend/main.py`).
FLAGS: dict[str, dict[str, Flag]] = {
    # 26.01 (vllm and python images): tag commit 91c61c5d, 2026-01-29.
    "v2.65.0": {f.name: f for f in (
        Flag("--model-repository", True, True, None, 94),
        Flag("--tokenizer", True, False, None, 100),
        Flag("--backend", True, False, None, 106),
        Flag("--lora-separator", True, False, None, 113),
        Flag("--tritonserver-log-verbose-level", True, False, "0", 119),
        Flag("--host", True, False, "0.0.0.0", 125),
        Flag("--tool-call-parser", True, False, None, 131),
        Flag("--chat-template", True, False, None, 141),
        Flag("--default-max-tokens", True, False, "16", 148),
        Flag("--openai-port", True, False, "9000", 157),
        Flag("--uvicorn-log-level", True, False, "info", 160),
        Flag("--openai-restricted-api", True, False, None, 167),
        Flag("--enable-kserve-frontends", False, False, None, 179),
        Flag("--kserve-http-port", True, False, "8000", 184),
        Flag("--kserve-grpc-port", True, False, "8001", 190),
    )},
    # 25.05 (tensorrtllm image): tag commit 4ae60c9e, 2025-05-28; no --default-max-tokens and no
    # --openai-restricted-api yet.
    "v2.58.0": {f.name: f for f in (
        Flag("--model-repository", True, True, None, 93),
        Flag("--tokenizer", True, False, None, 99),
        Flag("--backend", True, False, None, 105),
        Flag("--lora-separator", True, False, None, 112),
        Flag("--tritonserver-log-verbose-level", True, False, "0", 118),
        Flag("--host", True, False, "0.0.0.0", 124),
        Flag("--tool-call-parser", True, False, None, 130),
        Flag("--chat-template", True, False, None, 140),
        Flag("--openai-port", True, False, "9000", 149),
        Flag("--uvicorn-log-level", True, False, "info", 152),
        Flag("--enable-kserve-frontends", False, False, None, 162),
        Flag("--kserve-http-port", True, False, "8000", 167),
        Flag("--kserve-grpc-port", True, False, "8001", 173),
    )},
}
READ_ON = upstream.READ_ON


FRONTEND_IMAGES: dict[str, str] = {
    "nvcr.io/nvidia/tritonserver:26.01-vllm-python-py3":
        "vllm-0.13.0 wheel METADATA: Requires-Dist fastapi[standard]>=0.115.0, which brings uvicorn (PyPI, read "
        "2026-12-01); triton-inference-server/server qa/L0_openai/test.sh@v2.65.0:41-60 runs the frontend in the "
        "vLLM image installing only requirements-test.txt (pytest, pytest-asyncio)",
    "nvcr.io/nvidia/tritonserver:25.05-trtllm-python-py3":
        "triton-inference-server/server qa/L0_openai/test.sh@v2.58.0:30-55 runs the frontend in the TRT-LLM image "
        "installing only requirements.txt and requirements-test.txt, neither of which has uvicorn",
}
"""Images known to hold what the frontend imports beyond its requirements.txt (uvicorn:
frontend/fastapi_frontend.py@v2.65.0:29), with the evidence. Not the plain `26.01-py3`: build.py@v2.65.0:1256
installs only requirements.txt there (fastapi==0.121.2 without its `standard` extra, so no uvicorn), and
upstream's QA never runs the frontend in it."""


def frontend_tag(backend: str) -> str:
    """The server tag whose frontend the pinned image of `backend` ships."""
    return f"v{upstream.RELEASES[backend].triton_version}"


def flag_source(backend: str, flag: str) -> upstream.Source:
    tag = frontend_tag(backend)
    return upstream.Source(_SERVER, _MAIN, tag, FLAGS[tag][flag].line)


def tokenizer_dir(model: ModelConfig, weights_dir: str) -> str | None:
    """The Hugging Face tokenizer (and its chat template) in the synced weights, or None.

    vLLM: the checkpoint itself. TensorRT-LLM: the tokenizer beside the engine (the one the
    preprocessing model reads). python: none; such a model serves completions, and chat
    completions answer that the tokenizer is unknown (triton_engine.py@v2.65.0:795). The
    frontend loads the tokenizer at start (engine/utils/tokenizer.py), so a path without one
    would stop the server.
    """
    if model.backend == "vllm":
        return weights_dir
    if model.backend == "tensorrtllm":
        return trtllm_tokenizer_dir(weights_dir)
    return None


def frontend_command(
    model: ModelConfig,
    *,
    model_repository: str,
    weights_dir: str,
    openai_port: int = OPENAI_PORT,
    http_port: int = HTTP_PORT,
    grpc_port: int = GRPC_PORT,
    host: str | None = None,
) -> list[str]:
    """The Triton container's arguments (after the image's entrypoint): the frontend on the model repository.

    The OpenAI API on `openai_port`; the KServe v2 HTTP and gRPC frontends of the same in-process
    server on the usual ports (probes, and the KServe v2 protocol inside the pod). `host` binds all
    three (main.py@v2.65.0 `start_kserve_frontends` passes it to both KServe frontends): loopback
    when the TLS terminator beside it serves the pod's ports.
    """
    tokenizer = tokenizer_dir(model, weights_dir)
    return [
        "python3", FRONTEND_MAIN,
        f"--model-repository={model_repository}",
        *([f"--tokenizer={tokenizer}"] if tokenizer else []),
        *([f"--host={host}"] if host else []),
        f"--openai-port={openai_port}",
        "--enable-kserve-frontends",
        f"--kserve-http-port={http_port}",
        f"--kserve-grpc-port={grpc_port}",
    ]


REQUIRED_FLAGS = ("--model-repository", "--openai-port", "--enable-kserve-frontends",
                  "--kserve-http-port", "--kserve-grpc-port")
"""What our command must give: the repository (required by the parser), the ports it exposes and the
KServe frontends the probes ask."""


def check_command(args: list[str], backend: str) -> list[str]:
    """Problems with a frontend command against the parser at the pinned tag (empty: none)."""
    tag = frontend_tag(backend)
    known = FLAGS[tag]
    problems = []
    if args[:2] != ["python3", FRONTEND_MAIN]:
        problems.append(f"expected python3 {FRONTEND_MAIN}, got {args[:2]}")
    given = set()
    for a in args[2:]:
        name, eq, _ = a.partition("=")
        flag = known.get(name)
        if flag is None:
            problems.append(f"{name}: not a flag of {_MAIN}@{tag}")
            continue
        if flag.takes_value != bool(eq):
            problems.append(f"{name}: {'takes' if flag.takes_value else 'takes no'} value at {tag}")
        given.add(name)
    missing = [f for f in (*REQUIRED_FLAGS, *(n for n, f in known.items() if f.required)) if f not in given]
    problems += [f"{f}: required, not given" for f in dict.fromkeys(missing)]
    return problems


def openai_base_url(model: ModelConfig, *, tls: bool = True) -> str:
    """In-cluster base URL of the model's OpenAI-compatible API (what `OpenAI(base_url=...)` takes):
    https where the stack's TLS terminator serves the port (the default), http with `tls.enabled: false`."""
    scheme = "https" if tls else "http"
    return f"{scheme}://{model.name}.{model.namespace}.svc.cluster.local:{OPENAI_PORT}/v1"


def served_model_name(model: ModelConfig) -> str:
    """The `model` a client names: the model itself, or for TensorRT-LLM its text ensemble."""
    return f"{model.name}-text" if model.backend == "tensorrtllm" else model.name


@dataclass(frozen=True)
class Replacement:
    setting: str
    """What the plain tritonserver command set (llm_infra.triton.args)."""
    under_frontend: str
    """What the frontend does instead, with its source."""
    replaced_by: str


REPLACED: tuple[Replacement, ...] = (
    Replacement(
        "--http-restricted-api / --grpc-restricted-protocol (model-repository, model-config, shared-memory, "
        "statistics, trace, logging behind the admin header)",
        "main.py@v2.65.0:63-80 starts the KServe frontends with address and port only; tritonfrontend "
        "KServeHttp.Options has no restricted protocols (src/python/tritonfrontend/_api/_kservehttp.py@v2.65.0:42-48, "
        "'DLIS-7215: Add restricted protocol support')",
        "the model's NetworkPolicy admits client namespaces to the OpenAI port only; the KServe ports are "
        "reachable from inside the pod and by the kubelet's probes, never by another pod",
    ),
    Replacement(
        "--model-control-mode=none / explicit with --load-model",
        "main.py@v2.65.0:203-209 leaves tritonserver.Server at its default model_control_mode NONE "
        "(core python/tritonserver/_api/_server.py@r26.01:280): the repository loads once, load and unload "
        "are refused",
        "NONE for every backend; vLLM's engine health check can no longer unload a model whose engine died "
        "(it needs explicit mode), so probes ask the server's strict readiness and the VllmEngineStalled alert "
        "catches a dead engine",
    ),
    Replacement(
        "--strict-readiness=true",
        "tritonserver.Server default strict_readiness True (core _server.py@r26.01:301)",
        "the same default",
    ),
    Replacement(
        "--exit-timeout-secs=<model.exit_timeout_seconds>",
        "tritonserver.Server default exit_timeout 30 s (core _server.py@r26.01:302); main.py has no flag",
        "in-flight requests get 30 s after SIGTERM; the grace period stays sized for the longer of the two",
    ),
    Replacement(
        "--metrics-port=8002 with --allow-metrics / --allow-gpu-metrics",
        "main.py starts no metrics frontend; the OpenAI app serves Triton's metrics at GET /metrics "
        "(frontend/fastapi/routers/observability.py@v2.65.0:34; Server defaults metrics and gpu_metrics True)",
        "the Services' `metrics` port targets the OpenAI port, which the monitoring namespace may reach",
    ),
)


# --- the API the frontend serves, for clients and for tests ------------------------------

ROUTES_SOURCE = upstream.Source(_SERVER, "python/openai/openai_frontend/frontend/fastapi/routers", "v2.65.0")
ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("POST", "/v1/chat/completions"),   # routers/chat.py:37
    ("POST", "/v1/completions"),        # routers/completions.py:37
    ("GET", "/v1/models"),              # routers/models.py:38
    ("GET", "/v1/models/{model_name}"),  # routers/models.py:52
    ("POST", "/v1/embeddings"),         # routers/embeddings.py:37
    ("GET", "/metrics"),                # routers/observability.py:34
    ("GET", "/health/ready"),           # routers/observability.py:39
})


@dataclass(frozen=True)
class RequestSchema:
    required: frozenset[str]
    optional: frozenset[str]
    source: upstream.Source
    """Both request bodies forbid unknown fields (ConfigDict(extra='forbid'))."""


_SCHEMAS = "python/openai/openai_frontend/schemas/openai.py"
REQUEST_SCHEMAS: dict[str, RequestSchema] = {
    "/v1/completions": RequestSchema(
        frozenset({"model", "prompt"}),
        frozenset({"best_of", "echo", "frequency_penalty", "ignore_eos", "logit_bias", "logprobs", "max_tokens",
                   "min_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options", "suffix",
                   "temperature", "top_p", "user"}),
        upstream.Source(_SERVER, _SCHEMAS, "v2.65.0", 70),
    ),
    "/v1/chat/completions": RequestSchema(
        frozenset({"messages", "model"}),
        frozenset({"frequency_penalty", "ignore_eos", "logit_bias", "logprobs", "top_logprobs",
                   "max_completion_tokens", "max_tokens", "min_tokens", "n", "presence_penalty", "response_format",
                   "seed", "stop", "stream", "stream_options", "temperature", "top_p", "tools", "tool_choice",
                   "user", "function_call", "functions"}),
        upstream.Source(_SERVER, _SCHEMAS, "v2.65.0", 830),
    ),
}
MESSAGE_FIELDS = frozenset({"role", "content", "name"})
"""Fields of a system or user message (schemas/openai.py@v2.65.0:236, 677)."""


# What the frontend sends Triton for a generation request (engine/utils/triton.py@v2.65.0): the
# vLLM format to vLLM models, every other model the TensorRT-LLM format (triton_engine.py@v2.65.0:460-477).
CONVERTER_SOURCE = upstream.Source(_SERVER, "python/openai/openai_frontend/engine/utils/triton.py", "v2.65.0")
VLLM_REQUEST_INPUTS = frozenset({"text_input", "stream", "sampling_parameters", "return_logprobs",
                                 "return_num_input_tokens", "return_num_output_tokens"})
"""Always sent to a vLLM model, shape [1] (lines 149-175); `exclude_input_in_output` too when the model has it."""
OTHER_REQUEST_INPUTS: dict[str, tuple[str, list[int]]] = {
    "text_input": ("BYTES", [1, 1]), "stream": ("BOOL", [1, 1]), "max_tokens": ("INT32", [1, 1]),
    "top_p": ("FP32", [1, 1]), "frequency_penalty": ("FP32", [1, 1]), "presence_penalty": ("FP32", [1, 1]),
    "temperature": ("FP32", [1, 1]),
    "return_num_input_tokens": ("BOOL", [1, 1]), "return_num_output_tokens": ("BOOL", [1, 1]),
}
"""Sent to any other model with every completion and chat request (lines 187-248), with their data types and
shapes. The four sampling inputs are sent whenever they are not None, and the request schemas default them
to numbers (schemas/openai.py@v2.65.0:89-90, 120-121, 145-146, 150-151 for completions; the same fields of
the chat request): a client that leaves them out still sends them. Found by running the frontend (docs/versions.md,
"The OpenAI frontend, run"): a model declaring only the first three refused the README's requests with
"expected number of inputs between 1 and 3 but got 9 inputs"."""
OTHER_OPTIONAL_INPUTS: dict[str, tuple[str, list[int]]] = {"stop_words": ("BYTES", [1, -1]), "seed": ("UINT64", [1, 1])}
"""Sent to any other model only when the request sets them (lines 207-219)."""


TRTLLM_CONVERTER_SOURCE = upstream.Source(_SERVER, "python/openai/openai_frontend/engine/utils/triton.py", "v2.58.0",
                                          106)
TRTLLM_REQUEST_INPUTS: dict[str, tuple[str, list[int]]] = {
    "text_input": ("BYTES", [1, 1]), "stream": ("BOOL", [1, 1]),
    "top_p": ("FP32", [1, 1]), "frequency_penalty": ("FP32", [1, 1]), "presence_penalty": ("FP32", [1, 1]),
    "temperature": ("FP32", [1, 1]),
}
"""What the TensorRT-LLM image's frontend (v2.58.0, `_create_trtllm_inference_request`, lines 106-140) sends
the `<model>-text` ensemble with every request: the sampling inputs whenever they are not None, which the
request schemas' defaults make always (schemas/openai.py@v2.58.0:89, 120, 141, 146 and the chat request's)."""
TRTLLM_OPTIONAL_INPUTS: dict[str, tuple[str, list[int]]] = {
    "max_tokens": ("INT32", [1, 1]), "random_seed": ("UINT64", [1, 1]),
}
"""Sent only when the request sets them (lines 118-119, 131-132). Not declared by the ensemble, so refused
by Triton rather than ignored: `stop` (sent as `stop_words` strings; the engine takes token ids) and tools
(`guided_decoding_guide*`)."""


def check_request(method: str, path: str, body: dict | None) -> list[str]:
    """Problems with a request against the frontend's routes and request schemas (empty: none)."""
    if "/v1/models/" in path and method == "GET":
        return []
    if (method, path) not in ROUTES:
        return [f"{method} {path}: no such route in the frontend at {ROUTES_SOURCE.ref}"]
    schema = REQUEST_SCHEMAS.get(path)
    if schema is None:
        return []
    if not isinstance(body, dict):
        return [f"{path}: expected a JSON object, got {type(body).__name__}"]
    problems = [f"{path}: {k} is required" for k in sorted(schema.required - set(body))]
    problems += [f"{path}: unknown field {k} (the schema forbids extra fields)"
                 for k in sorted(set(body) - schema.required - schema.optional)]
    for i, m in enumerate(body.get("messages") or []):
        problems += [f"{path}: messages[{i}].{k} is not a message field" for k in sorted(set(m) - MESSAGE_FIELDS)]
    return problems


def flags_markdown() -> str:
    """The frontend's flags at each pinned tag, and which ones our command gives (docs/versions.md holds it verbatim)."""
    tags = list(FLAGS)
    rows = ["| flag | " + " | ".join(f"main.py@{t}" for t in tags) + " | default | our command |",
            "| --- | " + " | ".join("---" for _ in tags) + " | --- | --- |"]
    names = list(dict.fromkeys(n for t in tags for n in FLAGS[t]))
    for name in names:
        at = [f"line {FLAGS[t][name].line}" if name in FLAGS[t] else "absent" for t in tags]
        flag = next(FLAGS[t][name] for t in tags if name in FLAGS[t])
        default = "required" if flag.required else (f"`{flag.default}`" if flag.default else "-")
        ours = "given" if name in REQUIRED_FLAGS else ("vLLM, TensorRT-LLM" if name == "--tokenizer" else "-")
        rows.append(f"| `{name}` | " + " | ".join(at) + f" | {default} | {ours} |")
    return "\n".join(rows) + "\n"


def replaced_markdown() -> str:
    """What the plain tritonserver command set, what the frontend does, and what replaces it."""
    rows = ["| tritonserver setting | under the OpenAI frontend | replaced by |", "| --- | --- | --- |"]
    rows += [f"| {r.setting} | {r.under_frontend} | {r.replaced_by} |" for r in REPLACED]
    return "\n".join(rows) + "\n"
