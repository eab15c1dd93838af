"""The CrossGuard pack's translation layer, tested in the pack's own virtualenv (.venv-policy)."""

from __future__ import annotations

import os
import subprocess

from llm_infra.cli import main
from llm_infra.plan import find_project

ROOT = find_project().root
POLICY_PYTHON = os.environ.get("LLM_INFRA_POLICY_PYTHON", str(ROOT / ".venv-policy" / "bin" / "python"))


def test_policy_pack_translation_in_its_own_environment(tmp_path):
    assert os.path.exists(POLICY_PYTHON), (
        f"{POLICY_PYTHON} is missing: create it as scripts/setup-test.sh does "
        "(python -m venv .venv-policy && .venv-policy/bin/pip install -r policy/requirements.txt pytest)"
    )
    assert main(["plan", "existing", "--out", str(tmp_path), "--project", str(ROOT)]) == 0
    proc = subprocess.run(
        [POLICY_PYTHON, "-m", "pytest", str(ROOT / "policy" / "tests"), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, env={**os.environ, "LLM_INFRA_PLAN_DIR": str(tmp_path)}, capture_output=True, text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The pack's environment keeps its own protobuf 5; the library's is untouched.
    version = subprocess.run([POLICY_PYTHON, "-c", "import google.protobuf as p; print(p.__version__)"],
                             capture_output=True, text=True, check=True).stdout
    assert version.startswith("5.")
