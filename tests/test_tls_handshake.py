"""A real TLS handshake with the terminator as the pod runs it, in front of a real tritonserver.

NGINX is the Debian package's binary (scripts/setup-test.sh unpacks it into
~/.cache/llm-infra-tls; the pod runs `versions.TLS_PROXY_IMAGE`), configured by the exact
`nginx_conf` the workload puts in its ConfigMap; Triton runs from the nvidia-pytriton wheel on
loopback, as in the pod. A test CA stands in for cert-manager: it writes the Secret's three
files (tls.crt, tls.key, ca.crt) for the DNS names the model's Certificate asks for, and the
client verifies the Service's name. Fails (never skips) when NGINX is missing.
"""

from __future__ import annotations

import glob
import json
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from llm_infra.triton import tls
from llm_infra.triton.local_server import LocalTritonServer, _free_ports

from test_triton_server import SUBSTITUTIONS, TOY, infer_body, write_repository
from _certs import new_key as _key, pem as _pem, pem_key as _pem_key, sign_cert as _cert

pytestmark = pytest.mark.triton

NAMESPACE = "llm-serving"
SERVICE_NAME = f"{TOY.name}.{NAMESPACE}.svc"


def nginx_binary() -> str:
    found = os.environ.get("LLM_INFRA_NGINX") or next(iter(sorted(glob.glob(
        os.path.expanduser(os.environ.get("LLM_INFRA_TLS_CACHE", "~/.cache/llm-infra-tls")) + "/nginx-*/usr/sbin/nginx"))),
        None)
    if not found:
        pytest.fail("no NGINX binary: run scripts/setup-test.sh (it unpacks Debian's nginx into ~/.cache/llm-infra-tls)")
    return found


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """cert-manager's Secret for the model's Certificate (its DNS names), plus a client pair from the same CA."""
    root = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test stack CA")])
    ca = _cert("test stack CA", ca_key, ca_name, ca_key, ca=True)
    key = _key()
    leaf = _cert(TOY.name, key, ca_name, ca_key, ca=False, names=tls.certificate_dns_names(TOY.name, NAMESPACE))
    secret = root / "secret"
    secret.mkdir()
    (secret / "tls.crt").write_bytes(_pem(leaf) + _pem(ca))
    (secret / "tls.key").write_bytes(_pem_key(key))
    (secret / "ca.crt").write_bytes(_pem(ca))
    client_key = _key()
    client = _cert("client", client_key, ca_name, ca_key, ca=False, client=True)
    (root / "client.crt").write_bytes(_pem(client))
    (root / "client.key").write_bytes(_pem_key(client_key))
    return root


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    root = tmp_path_factory.mktemp("triton-tls")
    weights = root / "weights"
    weights.mkdir()
    (weights / "toy_llm.json").write_text(json.dumps({"substitutions": SUBSTITUTIONS}))
    repository = root / "repository"
    write_repository(repository, TOY, weights_dir=weights)
    with LocalTritonServer(repository, exit_timeout_seconds=5) as running:
        yield running


class Proxy:
    def __init__(self, triton: LocalTritonServer, pki: Path, directory: Path, *, mutual: bool) -> None:
        public = _free_ports(3)
        upstream = {"http": triton.http_port, "grpc": triton.grpc_port, "metrics": triton.metrics_port}
        self.listeners = [tls.Listener(lst.name, port, upstream[lst.name], lst.protocol, lst.client_certificates)
                          for lst, port in zip(tls.triton_listeners(), public, strict=True)]
        self.ports = {lst.name: lst.port for lst in self.listeners}
        directory.mkdir(parents=True, exist_ok=True)
        conf = tls.nginx_conf(self.listeners, mutual=mutual, tls_dir=str(pki / "secret"), tmp_dir=str(directory),
                              workers=1, open_paths=["/v2/health/ready", "/v2/health/live"])
        self.conf = directory / "nginx.conf"
        self.conf.write_text(conf)
        self.log = directory / "nginx.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([nginx_binary(), "-p", str(directory), "-c", str(self.conf), "-e", "stderr",
                                             "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise AssertionError(f"nginx did not listen: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def proxy(triton, pki, tmp_path_factory):
    running = Proxy(triton, pki, tmp_path_factory.mktemp("nginx"), mutual=False)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def mutual_proxy(triton, pki, tmp_path_factory):
    running = Proxy(triton, pki, tmp_path_factory.mktemp("nginx-mtls"), mutual=True)
    yield running
    running.stop()


def client_context(pki: Path, *, with_certificate: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "secret" / "ca.crt"))
    if with_certificate:
        context.load_cert_chain(pki / "client.crt", pki / "client.key")
    return context


def https(port: int, method: str, path: str, context: ssl.SSLContext, *, name: str = SERVICE_NAME,
          body: bytes = b"") -> tuple[int, bytes]:
    """One request over TLS to 127.0.0.1:port, verifying the certificate for `name` (the Service's DNS name)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with context.wrap_socket(raw, server_hostname=name) as conn:
            head = (f"{method} {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
            conn.sendall(head.encode() + body)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def test_inference_over_tls_verifies_the_services_name(proxy, pki):
    context = client_context(pki)
    assert https(proxy.ports["http"], "GET", "/v2/health/ready", context)[0] == 200
    status, body = https(proxy.ports["http"], "POST", f"/v2/models/{TOY.name}/infer", context,
                         body=json.dumps(infer_body(["abc"])).encode())
    assert status == 200, body
    assert b'"text_output"' in body


def test_a_name_the_certificate_does_not_hold_is_refused(proxy, pki):
    with pytest.raises(ssl.SSLCertVerificationError):
        https(proxy.ports["http"], "GET", "/v2/health/ready", client_context(pki), name="evil.example.com")


def test_plaintext_is_refused_on_every_public_port(proxy):
    for port in proxy.ports.values():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = raw.recv(4096)
        # NGINX answers a plaintext request on a TLS port with 400 and never forwards it.
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert b"The plain HTTP request was sent to HTTPS port" in answer


def test_metrics_are_served_over_tls(proxy, pki):
    status, body = https(proxy.ports["metrics"], "GET", "/metrics", client_context(pki))
    assert status == 200
    assert b"nv_inference_request_success" in body


def test_grpc_over_tls_reaches_triton(proxy, pki):
    credentials = grpc.ssl_channel_credentials(root_certificates=(pki / "secret" / "ca.crt").read_bytes())
    # The client verifies the Service's name, as a pod would dialing it by DNS.
    options = [("grpc.ssl_target_name_override", SERVICE_NAME)]
    with grpc.secure_channel(f"127.0.0.1:{proxy.ports['grpc']}", credentials, options=options) as channel:
        live = channel.unary_unary("/inference.GRPCInferenceService/ServerLive")(b"", timeout=20)
    assert live == b"\x08\x01"  # ServerLiveResponse{live: true}


def test_mutual_tls_asks_inference_clients_for_a_certificate(mutual_proxy, pki):
    body = json.dumps(infer_body(["abc"])).encode()
    port = mutual_proxy.ports["http"]
    assert https(port, "POST", f"/v2/models/{TOY.name}/infer", client_context(pki), body=body)[0] == 403
    assert https(port, "POST", f"/v2/models/{TOY.name}/infer", client_context(pki, with_certificate=True),
                 body=body)[0] == 200
    # The kubelet's probes present no certificate; the health endpoints stay open to them.
    assert https(port, "GET", "/v2/health/ready", client_context(pki))[0] == 200
    # Prometheus scrapes with server TLS alone.
    assert https(mutual_proxy.ports["metrics"], "GET", "/metrics", client_context(pki))[0] == 200
