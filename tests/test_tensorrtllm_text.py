"""TensorRT-LLM models take text: the generated tokenizer models and ensemble on the real tritonserver.

The local tritonserver (2.51, nvidia-pytriton wheel) serves the generated `<model>-preprocessing`,
`<model>-postprocessing` and `<model>-text` models as llm-infra renders them, with the generated
`tensorrt_llm` config served by a stand-in engine on the python backend
(tests/fixtures/trtllm_stand_in/model.py). The tokenizer is a real Hugging Face `tokenizer.json`
(built here with the `tokenizers` library the TensorRT-LLM image ships); the engine directory
holds a trtllm-build-shaped config.json, which preprocessing checks before it serves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests
from google.protobuf import text_format
from tokenizers import Tokenizer, models, pre_tokenizers

from llm_infra.config import BatchingConfig, ModelConfig
from llm_infra.triton import upstream
from llm_infra.triton.local_server import LocalTritonServer, TritonServerError
from llm_infra.triton.model_repository import (
    TEXT_SUFFIX,
    build_model_config,
    companion_models,
    trtllm_engine_dir,
    trtllm_tokenizer_dir,
)

pytestmark = pytest.mark.triton

STAND_IN = Path(__file__).parent / "fixtures" / "trtllm_stand_in" / "model.py"
TRT = ModelConfig(name="llama-trt", backend="tensorrtllm", weights_uri="s3://models-bucket/llama-trt",
                  weights_size_gib=1.0, gpu_pool="cpu", gpus_per_replica=2, batching=BatchingConfig(max_batch_size=4))
VOCAB = ["</s>", "<unk>", "the", "quick", "brown", "fox"]
VERSION = upstream.RELEASES["tensorrtllm"].engine.split()[-1]


def weights(root: Path, *, version: str = VERSION, tp: int = 2) -> Path:
    """A synced TensorRT-LLM weights prefix: engine/ (trtllm-build's layout) and tokenizer/."""
    engine = Path(trtllm_engine_dir(str(root)))
    engine.mkdir(parents=True)
    config = {"version": version, "pretrained_config": {"architecture": "LlamaForCausalLM",
                                                        "mapping": {"world_size": tp, "tp_size": tp, "pp_size": 1}},
              "build_config": {"max_batch_size": 4}}
    (engine / "config.json").write_text(json.dumps(config))
    for rank in range(tp):
        (engine / f"rank{rank}.engine").write_bytes(b"not a real engine")
    tokenizer_dir = Path(trtllm_tokenizer_dir(str(root)))
    tokenizer_dir.mkdir(parents=True)
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tokenizer_dir / "tokenizer.json"))
    (tokenizer_dir / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    return root


def repository(root: Path, weights_dir: Path) -> Path:
    engine = build_model_config(TRT, weights_dir=str(weights_dir))
    engine.backend = "python"
    (root / TRT.name / "1").mkdir(parents=True)
    (root / TRT.name / "config.pbtxt").write_text(text_format.MessageToString(engine))
    shutil.copy(STAND_IN, root / TRT.name / "1" / "model.py")
    for directory, files in companion_models(TRT, weights_dir=str(weights_dir)).items():
        for relative, content in files.items():
            path = root / directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("trt")
    with LocalTritonServer(repository(root / "repository", weights(root / "weights")), exit_timeout_seconds=5) as s:
        yield s


def test_a_client_sends_text_and_gets_text(server):
    from test_client_contract import docs_example

    body = docs_example("### TensorRT-LLM: text")  # what docs/clients.md tells clients to send
    assert body == {"text_input": "the quick brown fox", "max_tokens": 6}
    response = requests.post(f"{server.http_url}/v2/models/{TRT.name}{TEXT_SUFFIX}/generate", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["text_output"] == "the quick brown fox the quick"


def test_a_streaming_client_gets_one_event_per_token(server):
    body = {"text_input": "quick fox", "max_tokens": 3, "stream": True}
    with requests.post(f"{server.http_url}/v2/models/{TRT.name}{TEXT_SUFFIX}/generate_stream", json=body,
                       timeout=30, stream=True) as response:
        assert response.status_code == 200, response.text
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith(b"data: ")]
    assert [e["text_output"] for e in events] == ["quick", "fox", "quick"]


def test_the_engine_model_itself_still_takes_token_ids(server):
    from llm_infra.triton.args import ADMIN_HEADER

    config = requests.get(f"{server.http_url}/v2/models/{TRT.name}/config", timeout=5,
                          headers={ADMIN_HEADER: server.admin_key}).json()  # model-config is restricted
    assert {i["name"] for i in config["input"]} >= {"input_ids", "input_lengths", "request_output_len"}


@pytest.mark.parametrize("version, tp, message", [
    ("0.14.0", 2, f"engine built by TensorRT-LLM 0.14.0, the image runs {VERSION}"),
    (VERSION, 1, "engine built for tensor parallelism 1, the replica has 2 GPUs"),
])
def test_an_engine_built_for_another_version_or_tp_never_turns_ready(tmp_path, version, tp, message):
    repo = repository(tmp_path / "repository", weights(tmp_path / "weights", version=version, tp=tp))
    with pytest.raises(TritonServerError) as failed:
        LocalTritonServer(repo, exit_timeout_seconds=5, ready_timeout_seconds=60).start()
    assert message in str(failed.value)



def _frontend_request(server, inputs: dict[str, tuple[str, list[int], object]]) -> tuple[str, str | None]:
    """Send inputs to the ensemble as the in-process frontend does (named tensors, not the generate
    extension, which would take unknown fields as parameters): text out, or the error."""
    import queue

    import numpy as np
    import tritonclient.grpc as grpcclient

    numpy_types = {"BYTES": np.object_, "BOOL": bool, "FP32": np.float32, "INT32": np.int32, "UINT64": np.uint64}
    answers: queue.Queue = queue.Queue()
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        client.start_stream(callback=lambda result, error: answers.put((result, error)))
        tensors = []
        for name, (dtype, shape, value) in inputs.items():
            tensor = grpcclient.InferInput(name, shape, dtype)
            tensor.set_data_from_numpy(np.full(shape, value, dtype=numpy_types[dtype]))
            tensors.append(tensor)
        client.async_stream_infer(TRT.name + TEXT_SUFFIX, tensors, enable_empty_final_response=True)
        text = ""
        while True:
            result, error = answers.get(timeout=60)
            if error is not None:
                return text, str(error)
            output = result.as_numpy("text_output")
            if output is not None:
                text += " ".join(t.decode() for t in output.reshape(-1))
            if result.get_response().parameters["triton_final_response"].bool_param:
                return text, None
    finally:
        client.stop_stream()
        client.close()


def test_the_requests_triton_openai_frontend_sends_are_accepted(server):
    """The TensorRT-LLM image's OpenAI frontend (v2.58.0) sends the sampling inputs with every request, and
    max_tokens only when the client sets it; the ensemble used to declare neither and refused them."""
    from llm_infra.triton.openai import TRTLLM_OPTIONAL_INPUTS, TRTLLM_REQUEST_INPUTS

    values = {"text_input": "the quick brown fox", "stream": False, "max_tokens": 6, "random_seed": 7}
    request = {name: (dtype, shape, values.get(name, 1.0))
               for name, (dtype, shape) in {**TRTLLM_REQUEST_INPUTS, **TRTLLM_OPTIONAL_INPUTS}.items()}
    assert _frontend_request(server, request) == ("the quick brown fox the quick", None)
    # Without max_tokens (a client that leaves it out), preprocessing's default_max_tokens applies.
    text, error = _frontend_request(server, {k: v for k, v in request.items() if k != "max_tokens"})
    assert error is None and text.startswith("the quick brown fox"), error
    # Not declared, so refused rather than silently ignored: stop words (the engine takes token ids).
    _, error = _frontend_request(server, {**request, "stop_words": ("BYTES", [1, 1], "fox")})
    assert error is not None and "stop_words" in error
