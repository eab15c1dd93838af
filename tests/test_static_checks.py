"""Lint and type checks: ruff and mypy, configured in pyproject.toml, clean over the code.

They run as tests so that the README's test command and CI (`.ci/run`) fail when either
finds something. Their caches live outside the repository (~/.cache/llm-infra/). A missing
tool fails here (it comes with `.[dev]`), it is never skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-infra"
# What ruff lints: everything we write in Python (the vendored policy copy and tool folders are excluded in pyproject).
LINTED = ["llm_infra", "tests", "scripts", "examples", "policy"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYPY_CACHE_DIR": str(CACHE / "mypy"), "RUFF_CACHE_DIR": str(CACHE / "ruff")}
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def test_ruff_finds_nothing():
    out = _run("ruff", "check", "--output-format", "concise", *LINTED)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_finds_nothing_in_the_package():
    out = _run("mypy")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_rejects_misspelled_component_and_model_fields_and_accepts_the_examples(tmp_path):
    # Each example under its own module name (they are all `__main__`), plus a program with one typo.
    for example in sorted((ROOT / "examples").glob("*/__main__.py")):
        (tmp_path / f"example_{example.parent.name.replace('-', '_')}.py").write_text(example.read_text())
    (tmp_path / "typo.py").write_text(
        "from llm_infra import ExistingCluster, TenantNamespace, TritonLlmWorkload\n"
        "\n"
        'cluster = ExistingCluster("gpu", {"kubeconfig": "{}", "storage_class": "encrypted-ssd"})\n'
        'TenantNamespace("serving", {"provider": cluster.provider, "namespce": "llm-serving"})\n'
        'TritonLlmWorkload("m", {"cluster": {"provider": cluster.provider, "storage_class": "encrypted-ssd"},\n'
        '                        "model": {"name": "m", "backend": "vllm", "weigths_uri": "s3://models/m",\n'
        '                                  "weights_size_gib": 15, "gpu_pool": "l4"}})\n'
    )
    files = sorted(str(p) for p in tmp_path.glob("*.py"))
    out = _run("mypy", "--config-file", str(ROOT / "pyproject.toml"), *files)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert len(files) >= 6, files
    where = {e.split(": error:")[0].rsplit("/", 1)[-1] for e in errors}
    # The misspelled namespace key, and the model mapping with `weigths_uri` (not a ModelConfig field).
    assert where == {"typo.py:4", "typo.py:6"}, out.stdout + out.stderr
    assert any('Extra key "namespce" for TypedDict "TenantNamespaceArgs"' in e for e in errors), out.stdout
    assert any("typo.py:6" in e and '"model" has type "ModelConfigFields | ModelConfig"' in e for e in errors), out.stdout
