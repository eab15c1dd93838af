"""The DCGM exporter's metrics TLS, handshaken for real: the web config the stack generates, served by
prometheus/exporter-toolkit at the version the pinned exporter builds with (v0.11.0, dcgm-exporter
go.mod@3.3.9-3.6.1) through the same `web.ListenAndServe` call (tools/webtls, built from the Go module
proxy into the user cache), with a Secret as cert-manager writes it for the exporter's Service names.
Prometheus' side is what the ServiceMonitor asks for: the CA and serverName `dcgm-exporter.<ns>.svc`."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from llm_infra.kubernetes import dcgm_exporter as dcgm
from _certs import new_key as _key, pem as _pem, sign_cert as _cert

TOOL = Path(__file__).resolve().parents[1] / "tools" / "webtls"
NAMESPACE = "gpu-monitoring"


@pytest.fixture(scope="module")
def webtls() -> Path:
    """tools/webtls built once into the user cache (never the repository)."""
    key = hashlib.sha256(b"".join((TOOL / n).read_bytes() for n in ("go.mod", "go.sum", "main.go"))).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-infra" / f"webtls-{key}"
    binary = cache / "webtls"
    if not binary.exists():
        go = shutil.which("go")
        assert go, "go is needed to build tools/webtls (scripts/setup.sh installs it)"
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([go, "build", "-o", str(binary), "."], cwd=TOOL, check=True, timeout=1200,
                       env={**os.environ, "CGO_ENABLED": "0"})
    return binary


class Pki:
    def __init__(self, root: Path) -> None:
        self.secret = root / "secret"
        self.secret.mkdir()
        self.ca_key = _key()
        self.ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test stack CA")])
        self.ca = _cert("test stack CA", self.ca_key, self.ca_name, self.ca_key, ca=True)
        (self.secret / "ca.crt").write_bytes(_pem(self.ca))

    def issue(self) -> x509.Certificate:
        """What cert-manager writes into Secret dcgm-exporter-tls for the Certificate's DNS names."""
        key = _key()
        leaf = _cert("dcgm-exporter", key, self.ca_name, self.ca_key, ca=False,
                     names=dcgm.service_dns_names(NAMESPACE))
        (self.secret / "tls.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (self.secret / "tls.crt").write_bytes(_pem(leaf) + _pem(self.ca))
        return leaf


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def exporter(webtls, tmp_path_factory):
    root = tmp_path_factory.mktemp("dcgm-tls")
    pki = Pki(root)
    pki.issue()
    config = root / dcgm.WEB_CONFIG_FILE
    # The generated web config, its mount path pointed at this test's Secret directory.
    generated = dcgm.web_config()
    assert generated.count(dcgm.TLS_DIR) == 2
    config.write_text(generated.replace(dcgm.TLS_DIR, str(pki.secret)))
    port = _port()
    proc = subprocess.Popen([str(webtls), "-listen", f"127.0.0.1:{port}", "-web-config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield port, pki
    proc.terminate()
    proc.wait(timeout=10)


def _scrape_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.secret / "ca.crt"))
    return context


def _get(port: int, context: ssl.SSLContext, name: str, path: str = "/metrics") -> tuple[bytes, x509.Certificate]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=name) as conn:
        peer = x509.load_der_x509_certificate(conn.getpeercert(binary_form=True))
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data, peer


def test_prometheus_scrapes_the_exporter_over_tls_verified_by_the_service_name(exporter):
    port, pki = exporter
    server_name = dcgm.service_dns_names(NAMESPACE)[0]  # the ServiceMonitor's tlsConfig.serverName
    data, _ = _get(port, _scrape_context(pki), server_name)
    assert data.startswith(b"HTTP/1.1 200") and b"DCGM_FI_DEV_GPU_UTIL" in data
    health, _ = _get(port, _scrape_context(pki), server_name, "/health")  # what the probes ask, over HTTPS
    assert health.startswith(b"HTTP/1.1 200")


def test_a_name_the_certificate_does_not_carry_is_refused(exporter):
    port, pki = exporter
    with pytest.raises(ssl.SSLCertVerificationError):
        _get(port, _scrape_context(pki), "dcgm-exporter.other-namespace.svc")


def test_plaintext_gets_no_metrics(exporter):
    port, _ = exporter
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = conn.recv(65536)
    assert data.startswith(b"HTTP/1.0 400") and b"DCGM_FI" not in data


def test_a_renewed_certificate_is_served_without_a_restart(exporter):
    port, pki = exporter
    renewed = pki.issue()  # cert-manager rewrites the Secret; the kubelet updates the mounted files
    _, peer = _get(port, _scrape_context(pki), dcgm.service_dns_names(NAMESPACE)[0])
    assert peer.serial_number == renewed.serial_number
