"""A Python language host for the real Pulumi CLI: `python -m llm_infra.local.langhost ENGINE_ADDRESS`.

Pulumi's own host (`pulumi-language-python`, Go) lives in its own module,
`github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3`, which the Go module
proxy here does not serve (403 for every version). This stands in for it, doing what the
CLI needs of a language host and no more:

- `Run` starts Pulumi's program executor, `python/cmd/pulumi-language-python-exec` taken
  from the `github.com/pulumi/pulumi/sdk/v3` module at the Python SDK's version (the file
  the real host runs), with the project's virtualenv, the engine's arguments and the
  config in `PULUMI_CONFIG` / `PULUMI_CONFIG_SECRET_KEYS`, exactly as the real host does;
- `RunPlugin` starts a source-based plugin (`PulumiPlugin.yaml`) as the real host does:
  `python -u -m pulumi.run.plugin <distribution name>` in the plugin's directory;
- `GetRequiredPackages` reports none: plugins are installed up front (no downloads here).

The executor's path comes from `LLM_INFRA_PYTHON_EXEC` or sits next to this host's wrapper
in the engine cache (scripts/real-engine.sh puts it there).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import tomllib
from concurrent import futures
from pathlib import Path

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

VERSION = "3.272.0"
"""The Python SDK version this host runs programs with (the exec script's version)."""

# Exit code with which the executor says it already showed the user an actionable error.
_USER_ACTIONABLE_EXIT = 32


def _python(root: str, options: dict) -> str:
    venv = options.get("virtualenv")
    if venv:
        candidate = Path(root, venv, "bin", "python") if not os.path.isabs(venv) else Path(venv, "bin", "python")
        if candidate.exists():
            return str(candidate)
    return sys.executable


def _exec_script() -> str:
    path = os.environ.get("LLM_INFRA_PYTHON_EXEC")
    if path:
        return path
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory, "pulumi-language-python-exec")
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError("pulumi-language-python-exec: not on PATH and LLM_INFRA_PYTHON_EXEC unset "
                            "(run scripts/real-engine.sh)")


def _options(info: language_pb2.ProgramInfo) -> dict:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(info.options) if info.HasField("options") else {}


def _distribution_name(directory: str) -> str:
    pyproject = Path(directory, "pyproject.toml")
    if pyproject.exists():
        name = tomllib.loads(pyproject.read_text()).get("project", {}).get("name")
        if name:
            return name
    return Path(directory).name


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address

    def Handshake(self, request, context):  # noqa: N802 - gRPC method names
        if request.engine_address:
            self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request, context):  # noqa: N802
        return plugin_pb2.PluginInfo(version=VERSION)

    def GetRequiredPlugins(self, request, context):  # noqa: N802
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request, context):  # noqa: N802
        return language_pb2.GetRequiredPackagesResponse()

    def InstallDependencies(self, request, context):  # noqa: N802
        return iter(())

    def About(self, request, context):  # noqa: N802
        return language_pb2.AboutResponse(executable=sys.executable, version=VERSION)

    def GetProgramDependencies(self, request, context):  # noqa: N802
        return language_pb2.GetProgramDependenciesResponse()

    def RuntimeOptionsPrompts(self, request, context):  # noqa: N802
        return language_pb2.RuntimeOptionsResponse()

    def Run(self, request, context):  # noqa: N802
        info = request.info
        root = info.root_directory or request.pwd
        program_dir = info.program_directory or request.pwd
        program = os.path.join(program_dir, info.entry_point or ".")
        args = [
            _python(root, _options(info)), "-u", _exec_script(),
            "--monitor", request.monitor_address, "--engine", self.engine_address,
            "--project", request.project, "--stack", request.stack,
            "--pwd", request.pwd or program_dir,
            "--dry_run", "true" if request.dryRun else "false",
            "--parallel", str(request.parallel),
            "--root_directory", root,
        ]
        if request.organization:
            args += ["--organization", request.organization]
        args += [program, *request.args]
        env = dict(os.environ)
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        env["PULUMI_DRY_RUN"] = "true" if request.dryRun else "false"
        completed = subprocess.run(args, env=env, cwd=request.pwd or program_dir, check=False)
        if completed.returncode == 0:
            return language_pb2.RunResponse()
        if completed.returncode == _USER_ACTIONABLE_EXIT:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {completed.returncode}")

    def RunPlugin(self, request, context):  # noqa: N802
        info = request.info
        directory = info.program_directory or request.pwd
        args = [_python(info.root_directory or directory, _options(info)), "-u", "-m", "pulumi.run.plugin",
                _distribution_name(directory), *request.args]
        env = dict(os.environ)
        env.update(e.split("=", 1) for e in request.env if "=" in e)
        process = subprocess.Popen(args, cwd=request.pwd or directory, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines: queue.Queue[tuple[str, bytes] | None] = queue.Queue()

        def pump(stream, field: str) -> None:
            for line in iter(stream.readline, b""):
                lines.put((field, line))
            lines.put(None)

        for stream, field in ((process.stdout, "stdout"), (process.stderr, "stderr")):
            threading.Thread(target=pump, args=(stream, field), daemon=True).start()
        open_streams = 2
        while open_streams:
            item = lines.get()
            if item is None:
                open_streams -= 1
                continue
            field, line = item
            yield (language_pb2.RunPluginResponse(stdout=line) if field == "stdout"
                   else language_pb2.RunPluginResponse(stderr=line))
        yield language_pb2.RunPluginResponse(exitcode=process.wait())

    def Cancel(self, request, context):  # noqa: N802
        return empty_pb2.Empty()


def main(argv: list[str]) -> int:
    positional = [a for a in argv if not a.startswith("-")]
    engine = positional[-1] if positional else ""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageHost(engine), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    # The engine ends its plugins with SIGINT (then SIGKILL): stop serving quietly.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: server.stop(0))
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
