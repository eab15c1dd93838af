"""The generated repository on a real tritonserver 2.51 (nvidia-pytriton wheel, CPU), started with the deployed flags."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from llm_infra.config import BatchingConfig, ModelConfig
from llm_infra.triton.args import ADMIN_HEADER, RESTRICTED_APIS
from llm_infra.triton.local_server import LocalTritonServer
from llm_infra.triton.metrics import PENDING_REQUESTS, TRITON_METRICS
from llm_infra.triton.model_repository import write_model_repository

pytestmark = pytest.mark.triton

TOY = ModelConfig(
    name="toy",
    backend="python",
    python_model="builtin:toy_llm",
    weights_uri="s3://models-bucket/toy",
    weights_size_gib=1.0,
    gpu_pool="cpu",
    batching=BatchingConfig(max_batch_size=8, max_queue_delay_us=500, preferred_batch_sizes=[2, 4], instance_count=1),
    engine_args={"ms_per_token": 1},
)
WEIGHTED = TOY.model_copy(update={"name": "toy-weighted"})
SUBSTITUTIONS = {"a": "A", "b": ""}


def infer_body(prompts: list[str], max_tokens: list[int] | None = None) -> dict:
    inputs = [{"name": "text_input", "shape": [len(prompts), 1], "datatype": "BYTES", "data": prompts}]
    if max_tokens is not None:
        inputs.append({"name": "max_tokens", "shape": [len(max_tokens), 1], "datatype": "INT32", "data": max_tokens})
    return {"inputs": inputs}


def infer(server: LocalTritonServer, model: str, prompts: list[str], max_tokens: list[int] | None = None,
          timeout: float = 30) -> requests.Response:
    # Connection: close, so no idle keep-alive connection outlives the test's request
    # (an open one holds Triton's shutdown until the exit timeout, see below).
    return requests.post(
        f"{server.http_url}/v2/models/{model}/infer",
        json=infer_body(prompts, max_tokens),
        headers={"Connection": "close"},
        timeout=timeout,
    )


def texts(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    assert output["name"] == "text_output"
    return output["data"]


def metric_samples(server: LocalTritonServer) -> dict[str, dict[str, float]]:
    """{metric name: {label string: value}} from the Prometheus text on the metrics port."""
    text = requests.get(server.metrics_url, timeout=10, headers={"Connection": "close"}).text
    samples: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if m:
            samples.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(3))
    return samples


def write_repository(root: Path, *models: ModelConfig, weights_dir: Path | None = None) -> Path:
    kwargs = {"weights_dir": str(weights_dir)} if weights_dir else {}
    return write_model_repository(models, root, instance_kind="KIND_CPU", **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("triton")
    weights = root / "weights"
    weights.mkdir()
    (weights / "toy_llm.json").write_text(json.dumps({"substitutions": SUBSTITUTIONS}))
    repository = root / "repository"
    write_repository(repository, TOY, weights_dir=root / "no-weights-here")
    write_repository(repository, WEIGHTED, weights_dir=weights)
    with LocalTritonServer(repository, exit_timeout_seconds=10) as running:
        yield running


# -- serving ----------------------------------------------------------------------------


def test_server_is_ready_and_live_once_every_model_loaded(server):
    assert requests.get(f"{server.http_url}/v2/health/ready", timeout=5).status_code == 200
    assert requests.get(f"{server.http_url}/v2/health/live", timeout=5).status_code == 200
    for name in (TOY.name, WEIGHTED.name):
        assert requests.get(f"{server.http_url}/v2/models/{name}/ready", timeout=5).status_code == 200


def test_server_runs_the_deployed_command_line(server):
    command = server.command
    assert "--model-control-mode=none" in command
    assert "--strict-readiness=true" in command
    assert "--exit-timeout-secs=10" in command


def test_inference_over_http_returns_the_toy_continuation(server):
    assert texts(infer(server, TOY.name, ["hello"], [12])) == ["hellohellohe"]


def test_max_tokens_is_optional(server):
    assert texts(infer(server, TOY.name, ["ab"])) == ["ab" * 8]  # default_max_tokens: 16


def test_one_request_may_carry_several_prompts(server):
    assert texts(infer(server, TOY.name, ["x", "yz", "hello", ""], [1, 2, 3, 5])) == ["x", "yz", "hel", ""]


def test_the_model_reads_its_weights_from_weights_dir(server):
    # "abc" repeated is a b c a b c; the weights turn a into A and drop b.
    assert texts(infer(server, WEIGHTED.name, ["abc"], [6])) == ["AcAc"]
    assert texts(infer(server, TOY.name, ["abc"], [6])) == ["abcabc"]


def test_a_bad_request_gets_an_error_and_the_server_stays_ready(server):
    response = infer(server, TOY.name, ["abc"], [-1])
    assert response.status_code == 400
    assert "max_tokens: expected 0..4096, got -1" in response.json()["error"]
    assert requests.get(f"{server.http_url}/v2/health/ready", timeout=5).status_code == 200


def test_concurrent_requests_all_succeed(server):
    results: dict[int, list[str]] = {}

    def call(i: int) -> None:
        results[i] = texts(infer(server, TOY.name, [f"p{i}"], [4]))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: [(f"p{i}" * 4)[:4]] for i in range(8)}


def test_model_control_is_locked_down(server):
    response = requests.post(f"{server.http_url}/v2/repository/models/{TOY.name}/unload", timeout=10)
    assert response.status_code != 200
    assert requests.get(f"{server.http_url}/v2/models/{TOY.name}/ready", timeout=5).status_code == 200


RESTRICTED_HTTP = {
    "model-repository": ("POST", "/v2/repository/index"),
    "model-config": ("GET", "/v2/models/toy/config"),
    "shared-memory": ("GET", "/v2/systemsharedmemory/status"),
    "statistics": ("GET", "/v2/models/stats"),
    "trace": ("GET", "/v2/trace/setting"),
    "logging": ("GET", "/v2/logging"),
}


def test_every_restricted_api_is_named_in_the_test():
    assert set(RESTRICTED_HTTP) == set(RESTRICTED_APIS)


@pytest.mark.parametrize("api", sorted(RESTRICTED_HTTP))
def test_admin_apis_answer_403_without_the_admin_header(server, api):
    method, path = RESTRICTED_HTTP[api]
    refused = requests.request(method, f"{server.http_url}{path}", timeout=10, headers={"Connection": "close"})
    assert refused.status_code == 403, refused.text
    assert ADMIN_HEADER in refused.json()["error"]
    wrong = requests.request(method, f"{server.http_url}{path}", timeout=10,
                             headers={"Connection": "close", ADMIN_HEADER: "guess"})
    assert wrong.status_code == 403
    allowed = requests.request(method, f"{server.http_url}{path}", timeout=10,
                               headers={"Connection": "close", ADMIN_HEADER: server.admin_key})
    assert allowed.status_code == 200, allowed.text


def test_health_metadata_and_inference_stay_open(server):
    assert requests.get(f"{server.http_url}/v2/health/ready", timeout=5).status_code == 200
    assert requests.get(f"{server.http_url}/v2/models/{TOY.name}", timeout=5).status_code == 200
    assert texts(infer(server, TOY.name, ["open"], [2])) == ["op"]


def test_admin_grpc_protocols_are_refused_without_the_admin_header(server):
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        with pytest.raises(InferenceServerException, match="restricted"):
            client.get_model_repository_index()
        with pytest.raises(InferenceServerException, match="restricted"):
            client.get_log_settings()
        header = {f"triton-grpc-protocol-{ADMIN_HEADER}": server.admin_key}
        assert client.get_model_repository_index(headers=header) is not None
        assert client.is_server_ready()
    finally:
        client.close()


def test_config_endpoint_reports_the_generated_config(server):
    served = requests.get(f"{server.http_url}/v2/models/{TOY.name}/config", timeout=5,
                          headers={ADMIN_HEADER: server.admin_key}).json()
    assert served["backend"] == "python"
    assert served["max_batch_size"] == TOY.batching.max_batch_size
    assert int(served["dynamic_batching"]["max_queue_delay_microseconds"]) == TOY.batching.max_queue_delay_us
    assert served["dynamic_batching"]["preferred_batch_size"] == TOY.batching.preferred_batch_sizes
    assert [(g["kind"], g["count"]) for g in served["instance_group"]] == [("KIND_CPU", TOY.batching.instance_count)]
    # text_input, and every input Triton's OpenAI frontend sends a non-vLLM model (all optional).
    from llm_infra.triton import openai

    assert {i["name"]: i["optional"] for i in served["input"]} == {
        "text_input": False, **{n: True for n in (*openai.OTHER_REQUEST_INPUTS, *openai.OTHER_OPTIONAL_INPUTS)
                                if n != "text_input"}}
    assert [o["name"] for o in served["output"]] == ["text_output"]
    assert served["parameters"]["ms_per_token"] == {"string_value": "1"}
    assert served["parameters"]["weights_dir"]["string_value"].endswith("no-weights-here")


def test_every_metric_the_platform_uses_is_exported_after_an_inference(server):
    texts(infer(server, TOY.name, ["metrics"], [3]))
    samples = metric_samples(server)
    missing = [
        name for name in TRITON_METRICS
        if not any(f'model="{TOY.name}"' in labels for labels in samples.get(name, {}))
    ]
    assert missing == []
    toy = next(v for labels, v in samples["nv_inference_request_success"].items() if f'model="{TOY.name}"' in labels)
    assert toy >= 1


def _metric_names_used_by(name: str) -> set[str]:
    """Every Triton metric named in a stack's PrometheusRules, ScaledObjects and dashboards."""
    from _stacks import stack

    used: set[str] = set()
    for obj in stack(name).kubernetes_objects():
        if obj.kind in ("PrometheusRule", "ScaledObject", "ConfigMap"):
            used |= set(re.findall(r"\bnv_[a-z_]+\b", json.dumps(obj.inputs)))
    return used


def test_every_metric_in_the_generated_rules_and_autoscaler_exists_on_triton(server):
    from _stacks import STACKS

    texts(infer(server, TOY.name, ["rules"], [2]))
    exported = set(metric_samples(server))
    for name in STACKS:
        used = _metric_names_used_by(name)
        assert used, f"stack {name} names no Triton metric"
        assert used <= exported, (name, sorted(used - exported))


# -- shutdown ----------------------------------------------------------------------------


def _requests_started_or_queued(server: LocalTritonServer, model: str) -> int:
    started = sum(int(n) for n in re.findall(r"toy_llm: executing (\d+) requests", server.log))
    pending = sum(
        v for labels, v in metric_samples(server).get(PENDING_REQUESTS, {}).items() if f'model="{model}"' in labels
    )
    return started + int(pending)


def _ready_status(server: LocalTritonServer) -> int | None:
    try:
        return requests.get(f"{server.http_url}/v2/health/ready", timeout=5, headers={"Connection": "close"}).status_code
    except requests.ConnectionError:
        return None


def test_sigterm_lets_every_in_flight_request_finish_and_exits_within_the_exit_timeout(tmp_path):
    # 20 tokens at 100 ms: each request takes ~2 s; one instance, so some wait in the queue.
    slow = TOY.model_copy(update={"name": "slow", "engine_args": {"ms_per_token": 100}})
    exit_timeout = 30
    repository = write_repository(tmp_path / "repository", slow)
    with LocalTritonServer(repository, exit_timeout_seconds=exit_timeout) as server:
        results: dict[int, tuple[int, str, float]] = {}

        def call(i: int) -> None:
            try:
                response = infer(server, slow.name, [f"req{i}-"], [20], timeout=exit_timeout + 30)
                results[i] = (response.status_code, response.text, time.monotonic())
            except requests.RequestException as exc:
                results[i] = (-1, repr(exc), time.monotonic())

        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while _requests_started_or_queued(server, slow.name) < 4:
            assert time.monotonic() < deadline, "requests never reached the model"
            time.sleep(0.02)

        sigterm_at = time.monotonic()
        server.send_signal(signal.SIGTERM)
        # Triton stops accepting: the readiness probe fails, so Kubernetes takes the pod out of the Service.
        while _ready_status(server) == 200:
            assert time.monotonic() - sigterm_at < 5, "still ready 5 s after SIGTERM"
            time.sleep(0.05)
        returncode = server.wait(exit_timeout + 15)
        exited_after = time.monotonic() - sigterm_at
        for t in threads:
            t.join(5)

        for i in range(4):
            status, body, done_at = results[i]
            assert status == 200, body
            assert json.loads(body)["outputs"][0]["data"] == [(f"req{i}-" * 4)[:20]]
            assert done_at > sigterm_at  # it was in flight (or queued) when the signal came
        assert returncode == 0, server.log[-3000:]
        assert exited_after < exit_timeout, server.log[-3000:]


def test_an_idle_keep_alive_connection_delays_exit_only_up_to_the_exit_timeout(tmp_path):
    # Triton 2.51 waits for every open HTTP connection, idle keep-alive ones included, until
    # --exit-timeout-secs; the pod's grace period (preStop + exit timeout + margin) must cover it.
    exit_timeout = 5
    repository = write_repository(tmp_path / "repository", TOY)
    with LocalTritonServer(repository, exit_timeout_seconds=exit_timeout) as server, requests.Session() as client:
        first = client.post(f"{server.http_url}/v2/models/{TOY.name}/infer", json=infer_body(["keep"], [4]), timeout=10)
        assert texts(first) == ["keep"]
        sigterm_at = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(exit_timeout + 15)
        exited_after = time.monotonic() - sigterm_at
        assert exited_after < exit_timeout + 5, server.log[-3000:]


def _processes_in_group(pgid: int) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) == pgid:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (ProcessLookupError, PermissionError, FileNotFoundError):
            continue
    return found


def test_a_killed_server_takes_its_python_backend_stubs_with_it(tmp_path):
    repository = write_repository(tmp_path / "repo", TOY, weights_dir=tmp_path / "none")
    server = LocalTritonServer(repository, exit_timeout_seconds=5).start()
    pgid = server.pid
    assert any("triton_python_backend_stub" in cmd for cmd in _processes_in_group(pgid))
    server.stop(timeout=0)  # no graceful wait: straight to SIGKILL, as after a hung drain
    deadline = time.monotonic() + 10
    while _processes_in_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_in_group(pgid) == []
