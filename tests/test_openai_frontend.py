"""Triton's OpenAI-compatible frontend: the command, the endpoints and the README's requests.

What runs for real here: the generated Triton command is checked against the frontend's
argument parser at the pinned tags (tabled in llm_infra.triton.openai from
`python/openai/openai_frontend/main.py@v2.65.0` and `@v2.58.0`); the README's Python code runs
with the real `openai` client; the python model answers, on the real tritonserver (2.51, from
the nvidia-pytriton wheel), the KServe request the frontend builds for it. The frontend itself
cannot run here: its in-process `tritonserver` bindings need `libtritonserver.so`, which only
the NGC images ship (PyPI's tritonserver wheels are the bindings alone; the wheel's
tritonserver is one static binary). So the README's requests are held to the frontend's
routes and request schemas as read from its source at v2.65.0 (`ROUTES`, `REQUEST_SCHEMAS`).
"""

from __future__ import annotations

import json
import re
import shlex
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from llm_infra.config import ModelConfig
from llm_infra.plan import find_project, parsed_config, summary
from llm_infra.triton import openai, upstream
from llm_infra.triton.cache_sync import WEIGHTS_DIR
from llm_infra.triton.local_server import LocalTritonServer
from llm_infra.triton.model_repository import build_model_config, vllm_engine_args, write_model_repository

from _stacks import STACKS, stack

ROOT = find_project().root


def _statefulsets(name: str):
    result = stack(name)
    models = {m.name: m for m in parsed_config(name).models}
    for sts in result.kubernetes_objects("StatefulSet"):
        pod = sts.inputs["spec"]["template"]["spec"]
        yield models[sts.k8s_name], next(c for c in pod["containers"] if c["name"] == "triton"), sts


# --- every shipped stack ------------------------------------------------------------------


@pytest.mark.parametrize("name", STACKS)
def test_every_shipped_stacks_plan_and_outputs_show_an_openai_endpoint_per_model(name):
    result = stack(name)
    text = summary(name, result)
    endpoints = result.outputs["model_endpoints"]
    models = parsed_config(name).models
    assert models
    for model in models:
        scheme = "https" if parsed_config(name).tls.enabled else "http"  # gcp-dev opts out of TLS
        url = f"{scheme}://{model.name}.{model.namespace}.svc.cluster.local:9000/v1"
        assert endpoints[model.name]["openai"] == url
        assert f"    openai: {url}" in text


@pytest.mark.parametrize("name", STACKS)
def test_the_triton_command_is_the_pinned_frontend_with_only_its_flags(name):
    for model, triton, _ in _statefulsets(name):
        assert triton["args"][:2] == ["python3", openai.FRONTEND_MAIN]
        assert openai.check_command(triton["args"], model.backend) == [], model.name
        assert "command" not in triton  # the image's entrypoint (CUDA forward compatibility) runs first


def test_a_flag_the_pinned_frontend_lacks_or_a_missing_required_one_fails_the_check():
    [(model, triton, _)] = [t for t in _statefulsets("existing") if t[0].backend == "vllm"]
    args = list(triton["args"])
    # --default-max-tokens exists at v2.65.0 (vLLM, python images), not at v2.58.0 (TensorRT-LLM image).
    assert openai.check_command([*args, "--default-max-tokens=64"], "vllm") == []
    assert openai.check_command([*args, "--default-max-tokens=64"], "tensorrtllm") == [
        "--default-max-tokens: not a flag of python/openai/openai_frontend/main.py@v2.58.0"]
    assert openai.check_command([a.replace("--openai-port", "--port") for a in args], "vllm") == [
        "--port: not a flag of python/openai/openai_frontend/main.py@v2.65.0", "--openai-port: required, not given"]
    assert openai.check_command([a for a in args if not a.startswith("--model-repository")], "vllm") == [
        "--model-repository: required, not given"]
    assert openai.check_command([*args[:-1], "--enable-kserve-frontends=true"], "vllm")[0] == \
        "--enable-kserve-frontends: takes no value at v2.65.0"


def test_the_tensorrtllm_command_passes_the_frontend_of_its_older_image():
    model = ModelConfig.model_validate({
        "name": "llama-trt", "backend": "tensorrtllm", "weights_uri": "s3://models-bucket/llama-trt", "weights_size_gib": 16,
        "gpu_pool": "h100", "clients": ["frontend"]})
    args = openai.frontend_command(model, model_repository="/models", weights_dir=WEIGHTS_DIR)
    assert openai.frontend_tag("tensorrtllm") == "v2.58.0"
    assert openai.check_command(args, "tensorrtllm") == []
    assert f"--tokenizer={WEIGHTS_DIR}/tokenizer" in args
    # The client-facing model is the text ensemble.
    assert openai.served_model_name(model) == "llama-trt-text"


@pytest.mark.parametrize("name", STACKS)
def test_the_tokenizer_is_the_one_in_the_weights_the_sync_writes(name):
    for model, triton, _ in _statefulsets(name):
        tokenizers = [a.split("=", 1)[1] for a in triton["args"] if a.startswith("--tokenizer=")]
        if model.backend == "vllm":
            # The engine's checkpoint and the frontend's tokenizer (and chat template) are one directory.
            assert tokenizers == [WEIGHTS_DIR] == [vllm_engine_args(model, weights_dir=WEIGHTS_DIR)["model"]]
        else:
            assert tokenizers == []  # a python model has none; a path without one would stop the frontend


@pytest.mark.parametrize("name", STACKS)
def test_the_service_exposes_the_openai_port_and_only_it_is_admitted_from_clients(name):
    result = stack(name)
    for model, triton, sts in _statefulsets(name):
        # The pod's ports: Triton's own, or with TLS (the default) the terminator's in front of its loopback ones.
        containers = sts.inputs["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for c in containers for p in c.get("ports", [])}
        assert ports == {"http": 8000, "grpc": 8001, "openai": 9000}
        behind = 10000 if any(c["name"] == "tls-proxy" for c in containers) else 0
        assert f"--openai-port={ports['openai'] + behind}" in triton["args"]
        assert f"--kserve-http-port={ports['http'] + behind}" in triton["args"]
        # Probes ask the KServe HTTP endpoints of the same in-process server.
        assert triton["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
        assert triton["readinessProbe"]["httpGet"]["port"] in ("http", 8000)
        for svc_name in (model.name, f"{model.name}-headless"):
            svc = result.k8s("Service", svc_name, model.namespace)
            by_name = {p["name"]: p for p in svc["spec"]["ports"]}
            assert by_name["openai"]["port"] == 9000 and by_name["openai"]["targetPort"] == "openai"
            # Triton's metrics: on the OpenAI app (GET /metrics); the ServiceMonitor keeps its port name.
            assert by_name["metrics"]["targetPort"] == "openai"
        policy = result.k8s("NetworkPolicy", f"{model.name}-triton", model.namespace)["spec"]
        admitted = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
        assert admitted == {9000}, model.name
        if model.clients:
            [clients] = [r for r in policy["ingress"]
                         if r["from"][0]["namespaceSelector"].get("matchExpressions")]
            assert clients["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == sorted(model.clients)


# --- what the frontend sends the model ---------------------------------------------------


def test_the_vllm_model_takes_every_input_the_frontend_sends_it():
    # The generated vLLM config leaves inputs to the backend's auto-complete (upstream.VLLM_INPUTS).
    backend_inputs = {name for name, *_ in upstream.VLLM_INPUTS}
    assert openai.VLLM_REQUEST_INPUTS <= backend_inputs
    assert "exclude_input_in_output" in backend_inputs  # the echo tensor the frontend looks for


_PB_TYPES = {"BYTES": "TYPE_STRING", "BOOL": "TYPE_BOOL", "INT32": "TYPE_INT32", "FP32": "TYPE_FP32",
             "UINT64": "TYPE_UINT64"}


def test_the_python_model_declares_every_input_the_frontend_sends_with_its_type():
    [model] = [m for m in parsed_config("existing").models if m.backend == "python"]
    config = build_model_config(model, instance_kind="KIND_CPU")
    declared = {i.name: (pb_type_name(i.data_type), list(i.dims), i.optional) for i in config.input}
    for name, (dtype, shape) in {**openai.OTHER_REQUEST_INPUTS, **openai.OTHER_OPTIONAL_INPUTS}.items():
        # The frontend's shapes carry the batch dimension ([1, n]); the model's dims are per row.
        assert declared[name] == (_PB_TYPES[dtype], shape[1:], name != "text_input"), name


def pb_type_name(value: int) -> str:
    from tritonclient.grpc import model_config_pb2 as pb

    return pb.DataType.Name(value)


def _frontend_request(values: dict) -> dict:
    """The KServe v2 body of a request with these inputs, in the data types and shapes the frontend uses."""
    types = {**openai.OTHER_REQUEST_INPUTS, **openai.OTHER_OPTIONAL_INPUTS}
    return {"inputs": [{"name": name, "datatype": types[name][0], "shape": [1, len(value[0])], "data": value}
                       for name, value in values.items()]}


@pytest.mark.triton
def test_the_python_model_answers_the_request_the_frontend_builds_on_a_real_tritonserver(tmp_path):
    """The request Triton's OpenAI frontend (engine/utils/triton.py@v2.65.0:187-248) built for the README's
    completion, as the running frontend sent it on the device run of 2026-12-01 (docs/versions.md): nine
    inputs, the sampling ones at the request schema's defaults. A python model declaring only text_input,
    max_tokens and stream refused it ("expected number of inputs between 1 and 3 but got 9")."""
    [model] = [m for m in parsed_config("existing").models if m.backend == "python"]
    weights = tmp_path / "weights"
    weights.mkdir()
    repository = write_model_repository([model], tmp_path / "repository", weights_dir=str(weights),
                                        instance_kind="KIND_CPU")
    sent = {"text_input": [["hello"]], "stream": [[False]], "max_tokens": [[12]], "top_p": [[1.0]],
            "frequency_penalty": [[0.0]], "presence_penalty": [[0.0]], "temperature": [[0.7]],
            "return_num_input_tokens": [[True]], "return_num_output_tokens": [[True]]}
    assert set(sent) == set(openai.OTHER_REQUEST_INPUTS)
    with_options = {**sent, "stop_words": [["</s>", "\n\n"]], "seed": [[7]]}
    with LocalTritonServer(repository, exit_timeout_seconds=5) as server:
        answers = [requests.post(f"{server.http_url}/v2/models/{model.name}/infer", json=_frontend_request(body),
                                 headers={"Connection": "close"}, timeout=60) for body in (sent, with_options)]
    for response in answers:
        assert response.status_code == 200, response.text
        [output] = response.json()["outputs"]
        assert output["name"] == "text_output" and output["data"] == ["hellohellohe"]


# --- the README ---------------------------------------------------------------------------


def _section() -> str:
    readme = (ROOT / "README.md").read_text()
    text = readme[readme.index("\n## Calling a model through the OpenAI API\n"):]
    return text[: text.find("\n## ", 1)]


def _curls() -> tuple[list[str], list[str], list[list[str]]]:
    [block] = re.findall(r"```sh\n(.*?)```", _section(), re.S)
    commands = [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]
    return commands[0], commands[1], commands[2:]


def _request(curl: list[str]) -> tuple[str, str, dict | None]:
    assert curl[0] == "curl"
    [url] = [w for w in curl if w.startswith("https://")]
    body = json.loads(curl[curl.index("-d") + 1]) if "-d" in curl else None
    return ("POST" if body is not None else "GET"), url, body


def test_the_readmes_curl_requests_match_the_frontends_routes_and_schemas():
    ca, forward, curls = _curls()
    assert forward[:2] == ["kubectl", "-n"] and forward[3] == "port-forward"
    namespace, service = forward[2], forward[4].removeprefix("svc/")
    local, remote = (int(p) for p in forward[5].split(":"))
    [model] = [m for m in parsed_config("existing").models if m.name == service and m.namespace == namespace]
    svc = stack("existing").k8s("Service", service, namespace)
    assert next(p for p in svc["spec"]["ports"] if p["port"] == remote)["name"] == "openai"
    # The CA comes from the model's certificate Secret, and each request names a host the certificate carries.
    cert = next(r for r in stack("existing").kubernetes_objects("Certificate")
                if r.k8s_namespace == namespace and r.inputs["spec"]["secretName"] in ca)
    assert ca[:4] == ["kubectl", "-n", namespace, "get"] and ca[-2:] == [">", "ca.crt"]
    assert "jsonpath={.data.ca\\.crt}" in ca
    paths = set()
    for curl in curls:
        method, url, body = _request(curl)
        host = url.removeprefix("https://").split("/")[0].split(":")[0]
        assert host in cert.inputs["spec"]["dnsNames"], host
        assert curl[curl.index("--cacert") + 1] == "ca.crt"
        assert curl[curl.index("--resolve") + 1] == f"{host}:{local}:127.0.0.1"
        path = url.removeprefix(f"https://{host}:{local}")
        assert openai.check_request(method, path, body) == [], curl
        if body is not None:
            assert body["model"] == openai.served_model_name(model)
            assert ["-H", "Content-Type: application/json"] == curl[curl.index("-H"):curl.index("-H") + 2]
        paths.add((method, path, bool(body and body.get("stream"))))
    assert paths == {("GET", "/v1/models", False), ("POST", "/v1/chat/completions", False),
                     ("POST", "/v1/completions", True)}


def test_the_request_check_refuses_what_the_frontends_schemas_refuse():
    assert openai.check_request("POST", "/v1/chat/completions", {"model": "m", "prompt": "x"}) == [
        "/v1/chat/completions: messages is required",
        "/v1/chat/completions: unknown field prompt (the schema forbids extra fields)"]
    assert openai.check_request("POST", "/v2/chat", {}) == ["POST /v2/chat: no such route in the frontend at v2.65.0"]


class _Frontend(BaseHTTPRequestHandler):
    """Answers as the frontend's routers do (response schemas at v2.65.0) and records what it got."""

    seen: list[tuple[str, str, dict | None, list[str]]] = []

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        path = self.path.split("?")[0]
        problems = openai.check_request(method, path, body)
        self.seen.append((method, path, body, problems))
        if problems:
            self._json(422, {"detail": problems})
        elif path == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": "llama-3-8b", "created": 0, "object": "model", "owned_by": "Triton Inference Server"}]})
        elif path == "/v1/chat/completions":
            self._json(200, {"id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                          "message": {"role": "assistant", "content": "An inference server."}}]})
        elif path == "/v1/completions" and body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for text in (" Paris", "."):
                chunk = {"id": "cmpl-2", "object": "text_completion", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "text": text, "finish_reason": None, "logprobs": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
        else:
            self._json(500, {"detail": "not answered by this stand-in"})

    def _json(self, status: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self._answer("GET")

    def do_POST(self):  # noqa: N802
        self._answer("POST")


def test_the_readmes_openai_client_code_sends_requests_the_frontend_accepts(capsys):
    import openai as openai_client  # noqa: F401  (a dev dependency: missing, this test fails)

    [code] = re.findall(r"```python\n(.*?)```", _section(), re.S)
    base = 'base_url="https://llama-3-8b.llm-serving.svc.cluster.local:9000/v1"'
    assert code.count(base) == 1
    _Frontend.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Frontend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        exec(compile(code.replace(base, f'base_url="http://127.0.0.1:{server.server_port}/v1"'), "README", "exec"), {})
    finally:
        server.shutdown()
        server.server_close()
    assert [(m, p, problems) for m, p, _, problems in _Frontend.seen] == [
        ("GET", "/v1/models", []), ("POST", "/v1/chat/completions", []), ("POST", "/v1/completions", [])]
    assert _Frontend.seen[2][2]["stream"] is True
    assert capsys.readouterr().out == "['llama-3-8b']\nAn inference server.\n Paris."


def test_the_docs_hold_the_flag_table_and_what_replaces_each_setting():
    docs = (ROOT / "docs" / "versions.md").read_text()
    assert openai.flags_markdown() in docs
    assert openai.replaced_markdown() in docs


def test_the_policy_knows_the_frontends_command_and_kserve_ports():
    from llm_infra.policies.kubernetes import TRITON_FRONTEND, TRITON_KSERVE_PORTS
    from llm_infra.triton.args import GRPC_PORT, HTTP_PORT

    assert TRITON_FRONTEND == ("python3", openai.FRONTEND_MAIN)
    assert {HTTP_PORT, GRPC_PORT, "http", "grpc"} == TRITON_KSERVE_PORTS


# --- the device run of the frontend (docs/openai-frontend-run.md) ----------------------------

EVIDENCE = ROOT / "docs" / "evidence" / "openai-frontend-run-2026-12-01.json"


def test_the_inputs_the_running_frontend_sent_are_the_ones_python_models_declare():
    """The running frontend named the inputs it sent when main's python model refused them; the table
    (and so the model's declared inputs) holds exactly those."""
    runs = json.loads(EVIDENCE.read_text())["runs"]
    refused = [q["stdout"] for r in runs for q in r["requests"] if "expected number of inputs" in q["stdout"]]
    assert refused
    for answer in refused:
        sent = re.search(r"Got input\(s\) \[([^\]]*)\]", answer).group(1)
        assert {s.strip("'") for s in sent.split(",")} == set(openai.OTHER_REQUEST_INPUTS)
    # And after the fix no request was refused for its inputs.
    assert not [q for r in runs if r["device_call"] > 5 for q in r["requests"] if "expected number" in q["stdout"]]


def test_the_device_bundle_holds_the_plans_command_and_the_readmes_requests(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bundle", ROOT / "scripts" / "device" / "openai_frontend_bundle.py")
    bundle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bundle)
    bundle.main(tmp_path)
    phases = {p["phase"]: p for p in json.loads((tmp_path / "phases.json").read_text())}
    readme = phases["readme"]
    [(model, triton, _)] = [t for t in _statefulsets("existing") if t[0].name == readme["model"]]
    assert readme["args"] == triton["args"] and readme["tokenizer"]
    _, _, curls = _curls()
    [code] = re.findall(r"```python\n(.*?)```", _section(), re.S)
    sent = [r.get("line") or r["code"] for r in readme["requests"]]
    assert [shlex.split(s) for s in sent[:3]] == curls and sent[3] == code
    assert set(openai.OTHER_REQUEST_INPUTS) - {"text_input"} <= set(readme["repository"]["config.pbtxt"].split('"'))
    # The terminator's certificate names the host the README's curls resolve.
    cert = x509_names(tmp_path / "readme" / "tls" / "tls.crt")
    assert all(_request(c)[1].split("/")[2].split(":")[0] in cert for c in curls)


def x509_names(path) -> list[str]:
    from cryptography import x509

    cert = x509.load_pem_x509_certificates(path.read_bytes())[0]
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def test_every_image_that_runs_the_frontend_holds_what_it_imports():
    """The frontend imports uvicorn, which its requirements.txt does not install; the plain py3 image the
    python models ran in has none, so their pods would have stopped at import."""
    from llm_infra.triton import upstream
    from llm_infra.triton.openai import FRONTEND_IMAGES

    for backend, release in upstream.RELEASES.items():
        assert release.image in FRONTEND_IMAGES, (backend, release.image)
