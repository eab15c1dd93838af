"""Local object stores and the real cloud CLIs pointed at them, for the weight-sync tests.

Each store runs on loopback only: moto's S3 server, a GCS emulator and Azurite. The CLIs
are the real ones, installed by scripts/setup.sh: aws-cli (`.venv-awscli`), the Google
Cloud CLI's `gcloud storage` and azure-cli (`.venv-azure-cli`). They are pointed at the
stores through their own settings only (`AWS_ENDPOINT_URL`,
`CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE`, a registered Azure cloud and
`AZURE_STORAGE_ACCOUNT_URL`), so the script under test is byte for byte the one the init
container runs. Entra ID has no local counterpart: a small token service stands in for it
(OIDC discovery and the client-credentials token endpoint, ARM's tenant and subscription
lists), and it refuses the federated token `rejected-token`, like a login that fails.

A missing CLI or store is a test failure naming the setup step, never a skip.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
SETUP_HINT = "run scripts/setup.sh (it installs the cloud CLIs and the local stores the weight-sync tests use)"

# Never let a CLI look for cloud metadata servers (link-local addresses): point them at a
# closed loopback port instead.
NO_METADATA = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
    "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
}


def tool(path: Path | str, what: str) -> str:
    """The executable at `path` (or on PATH); fail the test when it is missing."""
    found = str(path) if Path(path).is_file() and os.access(path, os.X_OK) else shutil.which(str(path))
    if not found:
        pytest.fail(f"{what} is not installed (looked for {path}): {SETUP_HINT}", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode} before listening on port {port}", pytrace=False)
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"{what} did not listen on port {port} within {timeout:.0f}s", pytrace=False)


def start(cmd: list[str], port: int, what: str, log: Path, **kwargs) -> subprocess.Popen:
    out = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
    wait_for_port(port, proc, what)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Store:
    """A local store holding one model's weights, and the env that points a CLI at it."""

    scheme: str
    weights_uri: str
    cli_dir: str
    """Folder holding the CLI the script calls; put first on PATH."""
    cli_env: dict[str, str]
    failed_login_env: dict[str, str]
    """Overrides that make the CLI's login fail (no credentials, or rejected ones)."""
    failed_login_says: str
    """What the CLI prints when that login fails."""
    _put: object = field(repr=False)
    _delete: object = field(repr=False)
    home_setup: object = field(default=None, repr=False)
    """Prepares the CLI's config folder (Azure: registers the local cloud)."""

    def put(self, rel: str, data: bytes) -> None:
        self._put(rel, data)  # type: ignore[operator]

    def delete(self, rel: str) -> None:
        self._delete(rel)  # type: ignore[operator]


# --- S3: aws-cli against moto's server ----------------------------------------------------


def s3_store(tmp: Path) -> tuple[Store, subprocess.Popen]:
    aws = tool(REPO / ".venv-awscli" / "bin" / "aws", "aws-cli")
    moto = tool(REPO / ".venv-moto" / "bin" / "moto_server", "moto's S3 server (moto[server])")
    port = free_port()
    proc = start([moto, "-H", "127.0.0.1", "-p", str(port)], port, "moto_server", tmp / "moto.log")
    endpoint = f"http://127.0.0.1:{port}"
    bucket, prefix = "llm-models", "meta-llama/Llama-3.1-8B-Instruct"
    # moto reads who signed a request, not the signature (unsigned requests are anonymous).
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
                               "SignedHeaders=host, Signature=0"}
    requests.put(f"{endpoint}/{bucket}", headers=signed, timeout=30).raise_for_status()

    def put(rel: str, data: bytes) -> None:
        requests.put(f"{endpoint}/{bucket}/{prefix}/{rel}", data=data, headers=signed, timeout=30).raise_for_status()

    def delete(rel: str) -> None:
        requests.delete(f"{endpoint}/{bucket}/{prefix}/{rel}", headers=signed, timeout=30).raise_for_status()

    cli_env = {**NO_METADATA, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    # No credentials at all: what a pod whose IRSA token is missing sees.
    failed = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    store = Store("s3", f"s3://{bucket}/{prefix}", str(Path(aws).parent), cli_env, failed,
                  "Unable to locate credentials", put, delete)
    return store, proc


# --- GCS: gcloud storage against a GCS emulator ---------------------------------------------


def gs_store(tmp: Path) -> tuple[Store, subprocess.Popen]:
    gcloud = tool(os.environ.get("LLM_INFRA_GCLOUD", "gcloud"), "the Google Cloud CLI (gcloud)")
    emulator = tool(REPO / ".venv-gcs-emulator" / "bin" / "gcp-storage-emulator", "gcp-storage-emulator")
    port = free_port()
    bucket, prefix = "llm-models", "meta-llama/Llama-3.1-8B-Instruct"
    proc = start([emulator, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory",
                  "--default-bucket", bucket], port, "gcp-storage-emulator", tmp / "gcs.log")
    endpoint = f"http://127.0.0.1:{port}"

    def put(rel: str, data: bytes) -> None:
        requests.post(f"{endpoint}/upload/storage/v1/b/{bucket}/o", params={"uploadType": "media", "name": f"{prefix}/{rel}"},
                      data=data, headers={"Content-Type": "application/octet-stream"}, timeout=30).raise_for_status()

    def delete(rel: str) -> None:
        requests.delete(f"{endpoint}/storage/v1/b/{bucket}/o/{quote(f'{prefix}/{rel}', safe='')}", timeout=30).raise_for_status()

    cli_env = {**NO_METADATA, "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE": f"{endpoint}/",
               "CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
               "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true", "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    # Credentials required and none there: what a pod without its workload identity sees.
    failed = {"CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "false"}
    store = Store("gs", f"gs://{bucket}/{prefix}", str(Path(gcloud).parent), cli_env, failed,
                  "You do not currently have an active account selected", put, delete)
    return store, proc


# --- Azure Blob: azure-cli against Azurite, logged in through a stand-in for Entra ID -------

AZURE_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AZURE_CLIENT = "0b0e5d10-1111-4c1e-9a35-4b4ea0b1c2d3"
REJECTED_TOKEN = "rejected-token"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def storage_jwt(tenant: str = AZURE_TENANT) -> str:
    """An access token shaped like Entra's for Azure Storage (Azurite checks the claims, not the signature)."""
    now = int(time.time())
    claims = {"aud": "https://storage.azure.com", "iss": f"https://sts.windows.net/{tenant}/", "iat": now - 60,
              "nbf": now - 60, "exp": now + 3600, "oid": AZURE_CLIENT, "tid": tenant, "appid": AZURE_CLIENT}
    return f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.c2ln"


class _Entra(BaseHTTPRequestHandler):
    """OIDC discovery, the token endpoint and ARM's tenant and subscription lists."""

    base = ""

    def log_message(self, *args) -> None:  # quiet
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path.endswith("/.well-known/openid-configuration"):
            tenant = path.strip("/").split("/")[0]
            root = f"{self.base}/{tenant}"
            self._json(200, {
                "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "tenant_region_scope": "EU",
            })
        elif path == "/tenants":
            self._json(200, {"value": [{"id": f"/tenants/{AZURE_TENANT}", "tenantId": AZURE_TENANT}]})
        elif path == "/subscriptions":
            self._json(200, {"value": []})
        else:
            self._json(404, {"error": "not_found", "path": path})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        form = self.rfile.read(length).decode()
        if "/oauth2/v2.0/token" not in self.path:
            self._json(404, {"error": "not_found"})
            return
        if f"client_assertion={REJECTED_TOKEN}" in form:
            self._json(401, {"error": "invalid_client", "error_description":
                             "AADSTS700024: Client assertion is not within its valid time range."})
            return
        self._json(200, {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                         "access_token": storage_jwt()})


def self_signed_cert(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "localhost.crt", tmp / "localhost.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def azure_store(tmp: Path) -> tuple[Store, list]:
    az = tool(REPO / ".venv-azure-cli" / "bin" / "az", "azure-cli")
    azurite = tool(REPO / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob", "Azurite")
    cert, key = self_signed_cert(tmp)
    # Azurite accepts bearer tokens (checking their claims) only over HTTPS.
    port = free_port()
    proc = start([azurite, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(tmp / "azurite"),
                  "--silent", "--skipApiVersionCheck", "--oauth", "basic", "--cert", str(cert), "--key", str(key)],
                 port, "Azurite", tmp / "azurite.log")
    entra = ThreadingHTTPServer(("127.0.0.1", 0), type("Entra", (_Entra,), {}))
    entra_url = f"https://127.0.0.1:{entra.server_address[1]}"
    entra.RequestHandlerClass.base = entra_url  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    entra.socket = context.wrap_socket(entra.socket, server_side=True)
    threading.Thread(target=entra.serve_forever, daemon=True).start()

    account, container, prefix = "devstoreaccount1", "llm-models", "meta-llama/Llama-3.1-8B-Instruct"
    account_url = f"https://127.0.0.1:{port}/{account}"
    headers = {"Authorization": f"Bearer {storage_jwt()}", "x-ms-version": "2021-08-06"}
    requests.put(f"{account_url}/{container}", params={"restype": "container"}, headers=headers, verify=str(cert),
                 timeout=30).raise_for_status()

    def put(rel: str, data: bytes) -> None:
        requests.put(f"{account_url}/{container}/{prefix}/{rel}", data=data, verify=str(cert), timeout=30,
                     headers={**headers, "x-ms-blob-type": "BlockBlob"}).raise_for_status()

    def delete(rel: str) -> None:
        requests.delete(f"{account_url}/{container}/{prefix}/{rel}", headers=headers, verify=str(cert),
                        timeout=30).raise_for_status()

    # Register the local cloud once, as `az cloud register` does; each pod's config folder
    # (its /tmp emptyDir) starts from a copy.
    registered = tmp / "azure-config"
    env = {**os.environ, **NO_METADATA, "AZURE_CONFIG_DIR": str(registered), "AZURE_CORE_COLLECT_TELEMETRY": "false"}
    subprocess.run(
        [az, "cloud", "register", "--name", "LlmInfraLocal", "--endpoint-active-directory", entra_url,
         "--endpoint-resource-manager", f"{entra_url}/", "--endpoint-active-directory-resource-id",
         "https://management.core.windows.net/", "--endpoint-management", "https://management.core.windows.net/",
         "--endpoint-active-directory-graph-resource-id", "https://graph.windows.net/",
         "--suffix-storage-endpoint", "core.windows.net", "--output", "none"],
        env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )
    subprocess.run([az, "cloud", "set", "--name", "LlmInfraLocal", "--output", "none"], env=env, check=True,
                   capture_output=True, stdin=subprocess.DEVNULL)

    def home_setup(env: dict[str, str]) -> None:
        shutil.copytree(registered, env["AZURE_CONFIG_DIR"], dirs_exist_ok=True)

    token_file = tmp / "azure-identity-token"
    token_file.write_text("federated-service-account-token")
    bad_token = tmp / "azure-identity-token-rejected"
    bad_token.write_text(REJECTED_TOKEN)
    cli_env = {**NO_METADATA,
               # what the workload identity webhook injects
               "AZURE_CLIENT_ID": AZURE_CLIENT, "AZURE_TENANT_ID": AZURE_TENANT,
               "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
               # the CLI's own settings that point it at the local stand-ins
               "AZURE_STORAGE_ACCOUNT_URL": account_url, "AZURE_CORE_INSTANCE_DISCOVERY": "false",
               "REQUESTS_CA_BUNDLE": str(cert), "AZURE_CORE_COLLECT_TELEMETRY": "false",
               "AZURE_CORE_NO_COLOR": "true", "AZURE_CORE_SURVEY_MESSAGE": "false"}
    failed = {"AZURE_FEDERATED_TOKEN_FILE": str(bad_token)}
    store = Store("azureblob", f"https://{account}.blob.core.windows.net/{container}/{prefix}", str(Path(az).parent),
                  cli_env, failed, "AADSTS700024", put, delete, home_setup)
    return store, [proc, entra]


STORES = {"s3": s3_store, "gs": gs_store, "azureblob": azure_store}
