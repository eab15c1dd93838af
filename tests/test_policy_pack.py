"""The CrossGuard pack: self-contained, and it agrees with the plan on every rule.

The pack runs in its own virtualenv, `policy/venv` (what PulumiPolicy.yaml names; pulumi-policy
pins protobuf 5), which scripts/setup.sh creates. Its tests (policy/tests) run there; this file
hands them the cases: every shipped stack's plan and every rule's negative case, each with the
violations the library's rules find, which the pack must report exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from llm_infra.cli import main
from llm_infra.plan import evaluate_plan, find_project, stack_accounts, stack_config, stack_names
from llm_infra.policies import Context, Resource, evaluate

from _stacks import stack

ROOT = find_project().root
POLICY_PYTHON = os.environ.get("LLM_INFRA_POLICY_PYTHON", str(ROOT / "policy" / "venv" / "bin" / "python"))
OUTPUT_RULES = {"credential-outputs-secret"}
"""Rules over stack outputs: CrossGuard hands policies secrets already unwrapped (pulumi-policy 1.21,
deserialize.py: proxy_secrets=False when validating), so only the stack's own check can judge them."""


def _policy_python() -> str:
    assert os.path.exists(POLICY_PYTHON), (
        f"{POLICY_PYTHON} is missing: create it as scripts/setup.sh does "
        "(python -m venv policy/venv && policy/venv/bin/pip install -r policy/requirements.txt pytest)"
    )
    return POLICY_PYTHON


def _as_crossguard_sees_it(resources: list[Resource]) -> list[Resource]:
    # CrossGuard does not expose retainOnDelete: the rules skip what they cannot see.
    return [Resource(r.type, r.name, r.inputs, r.protect, None, r.urn) for r in resources]


def _case(name: str, resources: list[Resource], context: Context, expected) -> dict:
    return {
        "name": name, "production": context.production, "accounts": sorted(context.accounts),
        "resources": [{"type": r.type, "name": r.name, "protect": r.protect, "inputs": r.inputs} for r in resources],
        "expected": sorted(f"[{v.rule}] {v.message}" for v in expected if v.rule not in OUTPUT_RULES),
    }


def _cases() -> list[dict]:
    from test_policies import NEGATIVE, resources_of

    cases = []
    for name in stack_names():
        config, _ = stack_config(name)
        result = stack(name)
        context = Context(production=config.get("llm-infra:production", True) is not False,
                          accounts=stack_accounts(config))
        assert [v for v in evaluate_plan(config, result) if v.rule not in OUTPUT_RULES] == evaluate(
            [Resource(r.type, r.name, r.inputs, r.protect, r.retain_on_delete, r.urn) for r in result.resources],
            context)
        resources = _as_crossguard_sees_it(
            [Resource(r.type, r.name, r.inputs, r.protect, r.retain_on_delete, r.urn) for r in result.resources])
        cases.append(_case(f"stack {name}", resources, context, evaluate(resources, context)))
    for rule_id, mutate in sorted(NEGATIVE.items()):
        resources = _as_crossguard_sees_it(mutate(resources_of("existing")))
        context = Context(production=False)
        cases.append(_case(f"negative {rule_id}", resources, context, evaluate(resources, context)))
    return cases


def test_the_pack_ships_the_rules_the_library_has():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "vendor_policies.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_pack_loads_from_its_own_folder_alone(tmp_path):
    # What `pulumi policy publish` uploads: the policy/ folder, nothing from the repository root.
    shutil.copytree(ROOT / "policy", tmp_path / "pack", ignore=shutil.ignore_patterns("venv", "tests", "__pycache__"))
    proc = subprocess.run(
        [_policy_python(), "-I", "-c", "import sys; sys.path.insert(0, '.'); import translate; "
         "import llm_infra_policies; print(len(translate.policies()), llm_infra_policies.__file__)"],
        cwd=tmp_path / "pack", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    count, origin = proc.stdout.split()
    assert int(count) > 60
    assert origin.startswith(str(tmp_path / "pack"))


def test_the_virtualenv_is_the_one_the_pack_names():
    import yaml

    spec = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert POLICY_PYTHON == str(ROOT / "policy" / spec["runtime"]["options"]["virtualenv"] / "bin" / "python") \
        or "LLM_INFRA_POLICY_PYTHON" in os.environ


def test_policy_pack_agrees_with_the_plan_in_its_own_environment(tmp_path):
    python = _policy_python()
    assert main(["plan", "existing", "--out", str(tmp_path), "--project", str(ROOT)]) == 0
    (tmp_path / "cases.json").write_text(json.dumps(_cases()))
    proc = subprocess.run(
        [python, "-m", "pytest", str(ROOT / "policy" / "tests"), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, env={**os.environ, "LLM_INFRA_PLAN_DIR": str(tmp_path)}, capture_output=True, text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    # The pack's environment keeps its own protobuf 5; the library's is untouched.
    version = subprocess.run([python, "-c", "import google.protobuf as p; print(p.__version__)"],
                             capture_output=True, text=True, check=True).stdout
    assert version.startswith("5.")
