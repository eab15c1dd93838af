"""What a client calls for a vLLM (decoupled) model, and what a dead engine does to readiness.

Runs on the local tritonserver (2.51, nvidia-pytriton wheel) with the generated vLLM
config.pbtxt, served by a stand-in engine on the python backend
(tests/fixtures/vllm_stand_in/model.py): the generated config with `backend: python` and the
inputs and outputs the pinned vllm_backend adds (llm_infra.triton.upstream.VLLM_INPUTS).
The server runs the command line the pod runs for a vLLM model (explicit model control,
restricted model-repository API). The requests are the ones docs/clients.md shows.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import time
from pathlib import Path

import pytest
import requests
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from llm_infra.config import BatchingConfig, ModelConfig
from llm_infra.triton import upstream
from llm_infra.triton.args import ADMIN_HEADER
from llm_infra.triton.local_server import LocalTritonServer
from llm_infra.triton.model_repository import build_model_config
from llm_infra.triton.workload import readiness_path

pytestmark = pytest.mark.triton

STAND_IN = Path(__file__).parent / "fixtures" / "vllm_stand_in" / "model.py"
DOCS = Path(__file__).parent.parent / "docs" / "clients.md"

# The KServe v2 contract clients get with `openai_api: false` (the locked-down tritonserver).
CHAT = ModelConfig(
    name="chat", backend="vllm", weights_uri="s3://models-bucket/chat", weights_size_gib=1.0, gpu_pool="cpu",
    batching=BatchingConfig(max_batch_size=8), openai_api=False,
)


def stand_in_repository(root: Path, model: ModelConfig, ms_per_token: int = 5) -> Path:
    """The generated vLLM config served by the stand-in engine."""
    config = build_model_config(model)
    assert config.backend == "vllm" and config.model_transaction_policy.decoupled
    config.backend = "python"
    config.instance_group[0].kind = pb.ModelInstanceGroup.KIND_CPU
    config.parameters["ms_per_token"].string_value = str(ms_per_token)
    for name, dtype, dims, optional in upstream.VLLM_INPUTS:
        config.input.add(name=name, data_type=pb.DataType.Value(dtype), dims=list(dims), optional=optional)
    for name, dtype, dims in upstream.VLLM_OUTPUTS:
        config.output.add(name=name, data_type=pb.DataType.Value(dtype), dims=list(dims))
    directory = root / model.name
    (directory / "1").mkdir(parents=True)
    (directory / "config.pbtxt").write_text(text_format.MessageToString(config))
    shutil.copy(STAND_IN, directory / "1" / "model.py")
    return root


def docs_example(heading: str) -> dict:
    """The JSON body that docs/clients.md shows under `heading`."""
    text = DOCS.read_text()
    section = text[text.index(heading):]
    body = re.search(r"```json\n(.*?)```", section, re.S)
    assert body, f"docs/clients.md: no json block under {heading!r}"
    return json.loads(body.group(1))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repository = stand_in_repository(tmp_path_factory.mktemp("vllm") / "repository", CHAT)
    with LocalTritonServer(repository, exit_timeout_seconds=5, unloadable_models=(CHAT.name,)) as running:
        yield running


def test_generate_answers_text_for_a_text_prompt(server):
    body = docs_example("### HTTP: one answer")
    response = requests.post(f"{server.http_url}/v2/models/{CHAT.name}/generate", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_name"] == CHAT.name
    max_tokens = body["parameters"]["max_tokens"]
    prompt = body["text_input"]
    assert answer["text_output"] == prompt + (prompt * max_tokens)[:max_tokens]


def test_generate_stream_sends_one_event_per_token(server):
    body = docs_example("### HTTP: streamed")
    with requests.post(f"{server.http_url}/v2/models/{CHAT.name}/generate_stream", json=body, timeout=30,
                       stream=True) as response:
        assert response.status_code == 200, response.text
        events = [json.loads(line[len(b"data: "):]) for line in response.iter_lines() if line.startswith(b"data: ")]
    max_tokens = body["parameters"]["max_tokens"]
    assert len(events) == max_tokens
    assert "".join(e["text_output"] for e in events) == (body["text_input"] * max_tokens)[:max_tokens]


def test_grpc_streaming_delivers_every_token_then_the_final_flag(server):
    import numpy as np
    import tritonclient.grpc as grpcclient

    example = docs_example("### gRPC: streamed")
    answers: queue.Queue = queue.Queue()
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        client.start_stream(callback=lambda result, error: answers.put((result, error)))
        inputs = []
        for name, value in example["inputs"].items():
            dtype = "BOOL" if isinstance(value, bool) else "BYTES"
            tensor = grpcclient.InferInput(name, [1], dtype)
            array = np.array([value], dtype=bool) if dtype == "BOOL" else np.array(
                [json.dumps(value) if isinstance(value, dict) else value], dtype=np.object_)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        client.async_stream_infer(CHAT.name, inputs, enable_empty_final_response=True)
        tokens = []
        while True:
            result, error = answers.get(timeout=30)
            assert error is None, error
            final = result.get_response().parameters["triton_final_response"].bool_param
            output = result.as_numpy("text_output")
            if output is not None:
                tokens.append(output.reshape(-1)[0].decode())
            if final:
                break
    finally:
        client.stop_stream()
        client.close()
    max_tokens = example["inputs"]["sampling_parameters"]["max_tokens"]
    assert "".join(tokens) == (example["inputs"]["text_input"] * max_tokens)[:max_tokens]


def test_the_infer_endpoint_refuses_a_decoupled_model(server):
    body = {"inputs": [{"name": "text_input", "shape": [1], "datatype": "BYTES", "data": ["hi"]}]}
    response = requests.post(f"{server.http_url}/v2/models/{CHAT.name}/infer", json=body, timeout=30)
    assert response.status_code == 501, response.text
    assert "decoupled" in response.json()["error"]


def test_clients_cannot_load_or_unload_models(server):
    for action in ("unload", "load"):
        response = requests.post(f"{server.http_url}/v2/repository/models/{CHAT.name}/{action}", timeout=10)
        assert response.status_code in (401, 403), (action, response.status_code, response.text)
    assert requests.get(f"{server.http_url}{readiness_path(CHAT)}", timeout=5).status_code == 200


def test_a_dead_engine_makes_the_probed_path_fail(tmp_path):
    # Last: it kills the engine. A module-scoped server would stay broken for the tests after it.
    repository = stand_in_repository(tmp_path / "repository", CHAT)
    with LocalTritonServer(repository, exit_timeout_seconds=5, unloadable_models=(CHAT.name,)) as server:
        probe = f"{server.http_url}{readiness_path(CHAT)}"
        assert requests.get(probe, timeout=5).status_code == 200
        kill = {"text_input": "x", "parameters": {"stand_in_kill_engine": True}}
        assert requests.post(f"{server.http_url}/v2/models/{CHAT.name}/generate", json=kill, timeout=30).status_code != 200
        # The next request finds the engine dead: the backend unloads the model.
        requests.post(f"{server.http_url}/v2/models/{CHAT.name}/generate", json={"text_input": "y"}, timeout=30)
        deadline = time.monotonic() + 30
        while requests.get(probe, timeout=5).status_code == 200:
            assert time.monotonic() < deadline, "the probed path still answers 200 with a dead engine"
            time.sleep(0.2)
        assert requests.get(f"{server.http_url}/v2/health/live", timeout=5).status_code == 200
        # Why the probes ask the model: once the unload completes, strict readiness no longer
        # counts the model and the server answers ready again. (The index needs the pod's key.)
        index = f"{server.http_url}/v2/repository/index"
        assert requests.post(index, timeout=5).status_code == 403
        while True:
            models = requests.post(index, headers={ADMIN_HEADER: server.admin_key}, timeout=5).json()
            if [m.get("state") for m in models] == ["UNAVAILABLE"]:
                break
            assert time.monotonic() < deadline, models
            time.sleep(0.2)
        assert requests.get(f"{server.http_url}/v2/health/ready", timeout=5).status_code == 200
        assert requests.get(probe, timeout=5).status_code != 200


def test_sigterm_drains_in_flight_decoupled_requests_within_the_exit_timeout(tmp_path):
    # The pod's grace period is preStop + exit timeout + margin; a decoupled model's in-flight
    # generations must finish (or the server exit) inside the exit timeout.
    import signal
    import threading

    slow = CHAT.model_copy(update={"name": "slow"})
    repository = stand_in_repository(tmp_path / "repository", slow, ms_per_token=100)
    exit_timeout = 20
    with LocalTritonServer(repository, exit_timeout_seconds=exit_timeout, unloadable_models=("slow",)) as server:
        results: dict[int, requests.Response] = {}

        def call(i: int) -> None:
            body = {"text_input": f"r{i}", "parameters": {"max_tokens": 20}}  # 20 x 100 ms
            results[i] = requests.post(f"{server.http_url}/v2/models/slow/generate", json=body,
                                       headers={"Connection": "close"}, timeout=60)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        sigterm_at = time.monotonic()
        server.send_signal(signal.SIGTERM)
        returncode = server.wait(exit_timeout + 15)
        exited_after = time.monotonic() - sigterm_at
        for t in threads:
            t.join(5)
    assert all(results[i].status_code == 200 for i in range(3)), {i: r.text for i, r in results.items()}
    assert all(results[i].json()["text_output"] == f"r{i}" + (f"r{i}" * 20)[:20] for i in range(3))
    assert returncode == 0 and exited_after < exit_timeout
