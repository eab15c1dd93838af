"""A real Triton Inference Server on this machine, from the nvidia-pytriton wheel, for tests and benchmarks.

The wheel ships `tritonserver` 2.51 with the python backend, the stubs for each Python
minor version and the shared libraries it links against. `LocalTritonServer` lays them
out the way Triton expects (a private copy, with the stub of the running interpreter in
`backends/python/`), then runs the same command line the pod runs
(`llm_infra.triton.args.tritonserver_args`) on free local ports, plus the backend
directory and loopback-only addresses.

    with LocalTritonServer(repo, exit_timeout_seconds=30) as server:
        requests.post(f"{server.http_url}/v2/models/toy/infer", json=...)
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from llm_infra.triton.args import tritonserver_args

_LOOPBACK = "127.0.0.1"
_START_ATTEMPTS = 3
_PORT_IN_USE_MARKERS = ("already in use",)


class TritonServerError(RuntimeError):
    """The local tritonserver did not become ready (the message carries its log)."""


def pytriton_server_dir() -> Path:
    """`<site-packages>/pytriton/tritonserver` of the installed nvidia-pytriton wheel."""
    import pytriton

    return Path(pytriton.__file__).parent / "tritonserver"


def pytriton_libs_dir() -> Path:
    """The wheel's bundled shared libraries (`nvidia_pytriton.libs`, beside the `pytriton` package)."""
    import pytriton

    return Path(pytriton.__file__).parent.parent / "nvidia_pytriton.libs"


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((_LOOPBACK, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class LocalTritonServer:
    """Runs `tritonserver` on CPU over a model repository until stopped.

    Starts in `start()` (or on entering the `with` block) and returns once
    `/v2/health/ready` answers 200, which with `--strict-readiness=true` means every
    model of the repository loaded. Raises TritonServerError with the server log when
    the server exits first or is not ready within `ready_timeout_seconds`.
    """

    def __init__(
        self,
        model_repository: str | Path,
        *,
        exit_timeout_seconds: int = 30,
        ready_timeout_seconds: float = 120.0,
        unloadable_models: tuple[str, ...] = (),
    ) -> None:
        """`unloadable_models` as in `tritonserver_args` (explicit model control of those models)."""
        self.model_repository = Path(model_repository).resolve()
        self.exit_timeout_seconds = exit_timeout_seconds
        self.ready_timeout_seconds = ready_timeout_seconds
        self.unloadable_models = tuple(unloadable_models)
        self.http_port = 0
        self.grpc_port = 0
        self.metrics_port = 0
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._final_log = ""
        self._terminating = False
        # The restricted APIs (model control, config, statistics, trace, logging, shared memory) answer
        # only requests carrying this key in the admin header.
        self.admin_key = secrets.token_hex(16)

    # -- what tests use -------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{_LOOPBACK}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{_LOOPBACK}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        """The Prometheus endpoint (`/metrics` on the metrics port)."""
        return f"http://{_LOOPBACK}:{self.metrics_port}/metrics"

    @property
    def pid(self) -> int:
        return self._running().pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the server has exited, else None."""
        return None if self._process is None else self._process.poll()

    @property
    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far (the python models' logs included)."""
        if self._log_path is None or not self._log_path.exists():
            return self._final_log
        return self._log_path.read_text(encoding="utf-8", errors="replace")

    @property
    def command(self) -> list[str]:
        """The command line of the running server."""
        return list(self._running().args)  # type: ignore[arg-type]

    def send_signal(self, sig: int) -> None:
        self._running().send_signal(sig)
        if sig in (signal.SIGTERM, signal.SIGINT):
            self._terminating = True

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the server to exit; returns its exit status (raises subprocess.TimeoutExpired)."""
        return self._running().wait(timeout)

    def start(self) -> LocalTritonServer:
        if self._process is not None:
            raise TritonServerError("tritonserver already started")
        self._workdir = Path(tempfile.mkdtemp(prefix="llm-infra-triton-"))
        try:
            server_dir = self._install(self._workdir / "tritonserver")
            for attempt in range(1, _START_ATTEMPTS + 1):
                self._launch(server_dir, attempt)
                if self._wait_ready():
                    return self
                # Another process may have taken one of the ports between our probe and
                # Triton's bind; try again on fresh ports before giving up.
                if attempt == _START_ATTEMPTS or not any(m in self.log for m in _PORT_IN_USE_MARKERS):
                    break
            log = self.log
            self._kill()
            raise TritonServerError(f"tritonserver did not become ready; its log:\n{log}")
        except BaseException:
            self._cleanup()
            raise

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, then wait for the graceful exit (exit timeout + 15 s by default), else SIGKILL.

        Returns the exit status (None if the server never started).
        """
        process = self._process
        if process is not None and process.poll() is None:
            # A second SIGTERM makes Triton skip the graceful wait: send it only once.
            if not self._terminating:
                self.send_signal(signal.SIGTERM)
            try:
                process.wait(self.exit_timeout_seconds + 15 if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        code = None if process is None else process.returncode
        self._cleanup()
        return code

    def __enter__(self) -> LocalTritonServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------------

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise TritonServerError("tritonserver not started")
        return self._process

    @staticmethod
    def _install(target: Path) -> Path:
        source = pytriton_server_dir()
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = source / "python_backend_stubs" / version / "triton_python_backend_stub"
        if not stub.is_file():
            raise TritonServerError(f"nvidia-pytriton has no python backend stub for Python {version} ({stub})")
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("python_backend_stubs", "__pycache__"))
        shutil.copy2(stub, target / "backends" / "python" / "triton_python_backend_stub")
        return target

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        libs = str(pytriton_libs_dir())
        env["LD_LIBRARY_PATH"] = f"{libs}:{env['LD_LIBRARY_PATH']}" if env.get("LD_LIBRARY_PATH") else libs
        # The python backend stub runs the interpreter found first on PATH: ours, with numpy.
        env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    def _launch(self, server_dir: Path, attempt: int) -> None:
        assert self._workdir is not None
        self._kill()
        self._terminating = False
        self.http_port, self.grpc_port, self.metrics_port = _free_ports(3)
        command = [
            str(server_dir / "bin" / "tritonserver"),
            *tritonserver_args(
                model_repository=str(self.model_repository),
                exit_timeout_seconds=self.exit_timeout_seconds,
                http_port=self.http_port,
                grpc_port=self.grpc_port,
                metrics_port=self.metrics_port,
                unloadable_models=self.unloadable_models,
                admin_key=self.admin_key,
            ),
            f"--backend-directory={server_dir / 'backends'}",
            f"--cache-directory={server_dir / 'caches'}",
            f"--http-address={_LOOPBACK}",
            f"--grpc-address={_LOOPBACK}",
            f"--metrics-address={_LOOPBACK}",
        ]
        self._log_path = self._workdir / f"tritonserver-{attempt}.log"
        with open(self._log_path, "wb") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._environment(),
                cwd=self._workdir,
                # Its own process group: the python-backend stubs are its children and must
                # go with it (a stub left behind keeps its GPU memory).
                start_new_session=True,
            )

    def _wait_ready(self) -> bool:
        process = self._running()
        deadline = time.monotonic() + self.ready_timeout_seconds
        url = f"{self.http_url}/v2/health/ready"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        return False

    def _kill(self) -> None:
        process = self._process
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the server and every backend stub it started
        except ProcessLookupError:
            pass
        if process.poll() is None:
            process.wait()

    def _cleanup(self) -> None:
        self._kill()
        if self._workdir is not None:
            # The log lives in the workdir: keep it readable after stop, for post-mortems.
            self._final_log = self.log
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
