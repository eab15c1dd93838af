"""The init container's weight sync, run for real: the script the pod gets, the real cloud
CLI, a local store (moto's S3 server, a GCS emulator, Azurite).

For every store: the weights land where the engine reads them; an interrupted download
resumes; a failed login never writes the completion marker; a new revision replaces the
old one's files; the revision pins the content, so tampered weights are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from _local_stores import STORES, Store, stop
from llm_infra.config import ModelConfig
from llm_infra.triton.cache_sync import CHECKSUM_LIST, MARKER, WEIGHTS_DIR, write_checksum_list
from llm_infra.triton.model_repository import render_model_repository
from test_workload import container, run_workload

pytestmark = pytest.mark.real_cli

WEIGHTS = {
    "config.json": b'{"architectures": ["LlamaForCausalLM"]}',
    "model-00001-of-00002.safetensors": os.urandom(3 * 1024 * 1024 + 7),
    "model-00002-of-00002.safetensors": os.urandom(1024 * 1024),
    "original/params.json": b'{"dim": 4096}',
}


@pytest.fixture(scope="module", params=sorted(STORES))
def store(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"store-{request.param}")
    made, servers = STORES[request.param](tmp)
    yield made
    for server in servers if isinstance(servers, list) else [servers]:
        if hasattr(server, "shutdown"):
            server.shutdown()
        else:
            stop(server)


class InitContainer:
    """The cache-sync init container of a rendered workload, run on this machine."""

    def __init__(self, store: Store, tmp: Path, revision: str | None) -> None:
        self.store, self.tmp = store, tmp
        result = run_workload(weights_uri=store.weights_uri, revision=revision)
        self.pod_container = container(result, "cache-sync")
        self.cache = tmp / "cache"
        self.home = tmp / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = self._env(self.pod_container["env"])
        if store.home_setup:
            store.home_setup(self.env)  # type: ignore[operator]

    def _local(self, value: str) -> str:
        # The pod's volumes, on this machine: /cache (the PV) and /tmp (an emptyDir).
        for mount, local in (("/cache", self.cache), ("/tmp", self.home)):
            if value == mount or value.startswith(mount + "/"):
                return str(local) + value[len(mount):]
        return value

    def _env(self, pod_env: list[dict]) -> dict[str, str]:
        env = {e["name"]: self._local(e["value"]) for e in pod_env}
        return {**env, "PATH": f"{self.store.cli_dir}:/usr/local/bin:/usr/bin:/bin", **self.store.cli_env}

    @property
    def weights(self) -> Path:
        return Path(self._local(WEIGHTS_DIR))

    @property
    def marker(self) -> Path:
        return Path(self._local(MARKER))

    def run(self, **env: str) -> subprocess.CompletedProcess:
        command = self.pod_container["command"]
        assert command[:2] == ["/bin/sh", "-c"]
        return subprocess.run(command, env={**self.env, **env}, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=600)

    def files(self) -> dict[str, bytes]:
        return {p.relative_to(self.weights).as_posix(): p.read_bytes()
                for p in sorted(self.weights.rglob("*")) if p.is_file()}


def upload(store: Store, tmp: Path, files: dict[str, bytes], gone: tuple[str, ...] = ()) -> str:
    """Upload `files` and their checksum list; return the revision that pins them."""
    local = tmp / f"upload-{hashlib.sha256(repr(sorted(files)).encode()).hexdigest()[:8]}-{len(list(tmp.iterdir()))}"
    for rel, data in files.items():
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
        (local / rel).write_bytes(data)
    revision = write_checksum_list(local)
    for rel in [*files, CHECKSUM_LIST]:
        store.put(rel, (local / rel).read_bytes())
    for rel in gone:
        store.delete(rel)
    return revision


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
    return result


def test_weights_land_exactly_where_the_engine_reads_them(store, tmp_path):
    revision = upload(store, tmp_path, WEIGHTS)
    pod = InitContainer(store, tmp_path, revision)
    ok(pod.run())
    # vLLM is given the weights directory itself (model.json "model"), not a folder below it.
    model = ModelConfig.model_validate({"name": "llama", "backend": "vllm", "weights_uri": store.weights_uri,
                                        "weights_size_gib": 16, "gpu_pool": "h100"})
    engine_args = json.loads(render_model_repository(model, weights_dir=WEIGHTS_DIR)["1/model.json"])
    assert pod._local(engine_args["model"]) == str(pod.weights)
    assert pod.files() == WEIGHTS
    assert pod.marker.read_text() == f"{store.weights_uri}@{revision}"
    # A restarted replica whose cache holds the pinned revision never touches the store.
    for rel in [*WEIGHTS, CHECKSUM_LIST]:
        store.delete(rel)
    assert "skipping download" in ok(pod.run()).stdout
    assert pod.files() == WEIGHTS


def test_a_resync_after_an_interrupted_download_completes(store, tmp_path):
    revision = upload(store, tmp_path, WEIGHTS)
    pod = InitContainer(store, tmp_path, revision)
    # The first attempt dies half-way: the second shard is not readable (yet).
    store.delete("model-00002-of-00002.safetensors")
    first = pod.run()
    assert first.returncode != 0
    assert not pod.marker.exists()
    # Partial files where a killed copy would leave them: in the weights directory itself
    # (a download that writes in place) and at the script's own partial download.
    pod.weights.mkdir(parents=True, exist_ok=True)
    for rel in WEIGHTS:
        (pod.weights / rel).parent.mkdir(parents=True, exist_ok=True)
        (pod.weights / rel).write_bytes(WEIGHTS[rel][: len(WEIGHTS[rel]) // 2])
    (pod.cache / ".llm-infra-download.part").write_bytes(b"partial")
    store.put("model-00002-of-00002.safetensors", WEIGHTS["model-00002-of-00002.safetensors"])
    ok(pod.run())
    assert pod.files() == WEIGHTS
    assert pod.marker.read_text() == f"{store.weights_uri}@{revision}"


def test_a_failed_login_never_writes_the_complete_marker(store, tmp_path):
    revision = upload(store, tmp_path, WEIGHTS)
    pod = InitContainer(store, tmp_path, revision)
    failed = pod.run(**store.failed_login_env)
    assert failed.returncode != 0, failed.stdout
    assert store.failed_login_says in failed.stderr
    assert "model cache complete" not in failed.stdout
    assert not pod.marker.exists()
    assert not pod.files()
    # Once the login works, the same cache fills.
    ok(pod.run())
    assert pod.files() == WEIGHTS


def test_a_new_revision_re_downloads_and_stale_files_go(store, tmp_path):
    first = upload(store, tmp_path, WEIGHTS)
    ok(InitContainer(store, tmp_path, first).run())
    changed = {**WEIGHTS, "model-00001-of-00002.safetensors": os.urandom(2 * 1024 * 1024)}
    del changed["original/params.json"]
    changed["generation_config.json"] = b'{"temperature": 0.6}'
    second = upload(store, tmp_path, changed, gone=("original/params.json",))
    pod = InitContainer(store, tmp_path, second)
    result = ok(pod.run())
    assert pod.files() == changed
    assert pod.marker.read_text() == f"{store.weights_uri}@{second}"
    assert "2 downloaded" in result.stdout  # the unchanged files stay; only what changed is fetched


def test_the_revision_pins_the_content_and_tampered_weights_are_refused(store, tmp_path):
    revision = upload(store, tmp_path, WEIGHTS)
    pod = InitContainer(store, tmp_path, revision)
    # Someone swaps a shard in the store: the checksum list catches it.
    store.put("model-00002-of-00002.safetensors", b"tampered" + WEIGHTS["model-00002-of-00002.safetensors"][8:])
    refused = pod.run()
    assert refused.returncode != 0
    assert "model-00002-of-00002.safetensors does not match its SHA-256" in refused.stderr
    assert not pod.marker.exists()
    # ... and rewrites the checksum list to match: the pinned revision catches that.
    upload(store, tmp_path, {**WEIGHTS, "model-00002-of-00002.safetensors": b"tampered"})
    refused = pod.run()
    assert refused.returncode != 0
    assert f"not the pinned revision {revision}" in refused.stderr
    assert not pod.marker.exists()
    assert "model-00002-of-00002.safetensors" not in pod.files()


def test_the_clis_under_test_are_the_releases_the_sync_images_ship():
    from _local_stores import REPO, tool
    from llm_infra.versions import MODEL_SYNC_IMAGES

    az = tool(REPO / ".venv-azure-cli" / "bin" / "az", "azure-cli")
    shipped = json.loads(subprocess.run([az, "version", "--output", "json"], capture_output=True, text=True,
                                        check=True, stdin=subprocess.DEVNULL).stdout)
    assert MODEL_SYNC_IMAGES["azureblob"].endswith(f":{shipped['azure-cli']}")
    gcloud = tool(os.environ.get("LLM_INFRA_GCLOUD", "gcloud"), "the Google Cloud CLI (gcloud)")
    shipped = json.loads(subprocess.run([gcloud, "version", "--format=json"], capture_output=True, text=True,
                                        check=True, stdin=subprocess.DEVNULL).stdout)
    assert MODEL_SYNC_IMAGES["gs"].split(":")[1].split("-")[0] == shipped["Google Cloud SDK"]
