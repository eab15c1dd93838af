"""Run the real Pulumi CLI offline: a file backend and PULUMI_HOME in a temporary directory,
the passphrase secrets provider, and only the plugins scripts/real-engine.sh built.

    ws = PulumiWorkspace(tmp / "pulumi", project_dir)
    ws.init_stack("dev", config={"llm-infra:cloud": "existing"}, secrets={"llm-infra:kubeconfig": kc})
    ws.up()            # -> the engine's JSON summary (`--json`)
    ws.preview()       # change summary of a second run
    ws.destroy()
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import binaries

PASSPHRASE = "llm-infra-local"


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class PulumiError(RuntimeError):
    pass


class PulumiWorkspace:
    def __init__(self, directory: Path, project_dir: Path, config_dir: Path | None = None) -> None:
        self.directory = Path(directory)
        self.project_dir = Path(project_dir)
        self.config_dir = Path(config_dir) if config_dir else self.project_dir
        self.home = self.directory / "home"
        self.state = self.directory / "state"
        self.bin = self.directory / "bin"
        for d in (self.home / "plugins", self.state, self.bin):
            d.mkdir(parents=True, exist_ok=True)
        self.pulumi = binaries.find("pulumi")
        # Every program the engine may start must come from the engine cache (no downloads).
        for program in ("pulumi-resource-kubernetes", "pulumi-language-python-exec"):
            binaries.find(program)
        langhost = self.bin / "pulumi-language-python"
        langhost.write_text(f"#!/bin/sh\nexec {sys.executable} -m llm_infra.local.langhost \"$@\"\n")
        langhost.chmod(0o755)
        self.stack = ""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        env.update({
            "PULUMI_HOME": str(self.home),
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
            "PATH": os.pathsep.join([str(self.bin), binaries.search_path(), os.path.dirname(sys.executable),
                                     os.environ.get("PATH", "")]),
            "NO_COLOR": "1",
        })
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 1200) -> Run:
        cmd = [self.pulumi, "--non-interactive", "--color", "never", *args]
        start = time.monotonic()
        completed = subprocess.run(cmd, cwd=self.project_dir, env=self.env(), capture_output=True, text=True,
                                   timeout=timeout, check=False)
        result = Run(cmd, completed.returncode, completed.stdout, completed.stderr, time.monotonic() - start)
        if check and completed.returncode != 0:
            raise PulumiError(f"pulumi {' '.join(args)} exited {completed.returncode}:\n{result.output[-8000:]}")
        return result

    def init_stack(self, stack: str, config_file: Path | None = None, secrets: dict[str, str] | None = None) -> None:
        """Create `stack`; its config is `config_file`'s (a Pulumi.<stack>.yaml) plus `secrets`, set encrypted."""
        self.stack = stack
        self.run("stack", "init", stack, "--secrets-provider", "passphrase")
        if config_file is not None:
            target = self.config_dir / f"Pulumi.{stack}.yaml"
            text = target.read_text() if target.exists() else ""
            salt = [line for line in text.splitlines() if line.startswith("encryptionsalt:")]
            target.write_text("\n".join(salt) + "\n" + Path(config_file).read_text())
        for key, value in (secrets or {}).items():
            self.run("config", "set", "--stack", stack, "--secret", key, "--", value)

    def up(self, *extra: str, watch: Callable[[], str | None] | None = None, every: float = 5) -> Run:
        """`pulumi up`; `watch` is called every `every` seconds while it runs and may return a reason to
        stop it (e.g. a pod the scheduler cannot place), instead of waiting out the await timeouts."""
        if watch is None:
            return self.run("up", "--yes", "--skip-preview", "--stack", self.stack, *extra)
        cmd = [self.pulumi, "--non-interactive", "--color", "never", "up", "--yes", "--skip-preview",
               "--stack", self.stack, *extra]
        start = time.monotonic()
        log = self.directory / "up.log"
        with open(log, "w") as out:
            process = subprocess.Popen(cmd, cwd=self.project_dir, env=self.env(), stdout=out,
                                       stderr=subprocess.STDOUT, text=True)
            reason = None
            while process.poll() is None:
                try:
                    process.wait(every)
                except subprocess.TimeoutExpired:
                    reason = watch()
                    if reason:
                        process.send_signal(signal.SIGINT)  # Pulumi cancels and saves its state
                        try:
                            process.wait(60)
                        except subprocess.TimeoutExpired:
                            process.kill()
                            process.wait()
        output = log.read_text()
        result = Run(cmd, process.returncode, output, "", time.monotonic() - start)
        if reason:
            raise PulumiError(f"pulumi up stopped after {result.seconds:.0f}s: {reason}\n{output[-4000:]}")
        if process.returncode != 0:
            raise PulumiError(f"pulumi up exited {process.returncode}:\n{output[-8000:]}")
        return result

    def preview(self, *extra: str) -> Run:
        return self.run("preview", "--stack", self.stack, "--diff", *extra)

    def preview_json(self) -> dict[str, Any]:
        out = self.run("preview", "--stack", self.stack, "--json").stdout
        return json.loads(out)

    def destroy(self) -> Run:
        return self.run("destroy", "--yes", "--skip-preview", "--stack", self.stack)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--stack", self.stack, "--json", "--show-secrets").stdout)

    def resources(self) -> list[dict[str, Any]]:
        exported = json.loads(self.run("stack", "export", "--stack", self.stack).stdout)
        return exported.get("deployment", {}).get("resources") or []


PROGRAMS = Path(__file__).resolve().parent / "programs"


def python_project(directory: Path, program_dir: Path, *, virtualenv: str | None = None) -> Path:
    """A Pulumi project `llm-infra` in `directory` whose program is `program_dir` (linked, not copied)
    and whose stack config lives in `directory/config`; returns the project directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config").mkdir(exist_ok=True)
    link = directory / "program"
    if not link.exists():
        link.symlink_to(Path(program_dir).resolve(), target_is_directory=True)
    venv = virtualenv or sys.prefix
    (directory / "Pulumi.yaml").write_text(
        "name: llm-infra\n"
        "runtime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {json.dumps(venv)}\n"
        "main: program/\nstackConfigDir: config/\n"
    )
    return directory
