"""Where the real programs built by scripts/real-engine.sh live (a cache outside the repository)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "real-engine.sh"

PROGRAMS = {
    "pulumi": "pulumi",
    "pulumi-language-python-exec": "pulumi",
    "pulumi-resource-kubernetes": "pulumi-kubernetes",
    "pulumi-language-yaml": "pulumi-yaml",
    "etcd": "etcd",
    "kube-apiserver": "kubernetes",
    "kube-controller-manager": "kubernetes",
    "kube-scheduler": "kubernetes",
    "kwok": "kwok",
    "sdkgen": "sdkgen",
}


class MissingBinary(RuntimeError):
    """A program the real-engine tests need was not built."""


def search_path() -> str:
    """The engine cache's bin directories, as a PATH string (from the build script's pins)."""
    if not SCRIPT.exists():
        raise MissingBinary(f"{SCRIPT} not found")
    return subprocess.run(["bash", str(SCRIPT), "--print-path"], check=True, capture_output=True,
                          text=True).stdout.strip()


def find(program: str) -> str:
    """Absolute path of `program` in the engine cache; MissingBinary naming the build to run if absent."""
    found = shutil.which(program, path=search_path())
    if found is None:
        build = PROGRAMS.get(program, program)
        raise MissingBinary(f"{program}: not built; run `scripts/real-engine.sh {build}` "
                            f"(cache: {os.environ.get('LLM_INFRA_ENGINE_CACHE', '~/.cache/llm-infra-engine')})")
    return found


def find_dir(build: str) -> str:
    """The cache bin directory of one build (e.g. `crds`), MissingBinary if it was not built."""
    path = subprocess.run(["bash", str(SCRIPT), "--print-path", build], check=True, capture_output=True,
                          text=True).stdout.strip()
    if not os.path.exists(os.path.join(path, "..", "bin")) or not os.listdir(path):
        raise MissingBinary(f"{build}: not built; run `scripts/real-engine.sh {build}`")
    return path


def require_all() -> dict[str, str]:
    return {p: find(p) for p in PROGRAMS}
