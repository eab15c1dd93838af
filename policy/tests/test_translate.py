"""The CrossGuard translation, run in the policy pack's own environment (no analyzer server).

Input: the `resources.json` of an offline plan, at $LLM_INFRA_PLAN_DIR (written by the main
test suite, which runs this file with the pack's interpreter).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from translate import policies  # noqa: E402

UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"


def _opts(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    plan = Path(os.environ["LLM_INFRA_PLAN_DIR"])
    return json.loads((plan / "resources.json").read_text())


NONPRODUCTION = json.loads((Path(__file__).resolve().parents[1] / "nonproduction.json").read_text())


def run(resources: list[dict], production: bool = False, accounts: list[str] | None = None) -> list[str]:
    # Per-policy config as `--policy-pack-config nonproduction.json` hands it over.
    configs = {} if production else copy.deepcopy(NONPRODUCTION)
    if accounts:
        configs = {p.name: {**configs.get(p.name, {}), "accounts": accounts} for p in policies()}
    reported: list[str] = []
    report = lambda message, urn=None: reported.append(message)  # noqa: E731
    stack = []
    for r in resources:
        stack.append(PolicyResource(r["type"], r["inputs"], r["name"], r["name"], _opts(r["protect"]), None, None,
                                    [], {}))
        for p in policies():
            if isinstance(p, ResourceValidationPolicy):
                args = ResourceValidationArgs(r["type"], r["inputs"], r["name"], r["name"], _opts(r["protect"]),
                                              None, configs.get(p.name, {}))
                p.validate(args, report)
    for p in policies():
        if isinstance(p, StackValidationPolicy):
            p.validate(StackValidationArgs(stack, configs.get(p.name, {})), report)
    return reported


def _triton(resources: list[dict]) -> dict:
    sts = next(r for r in resources if r["inputs"].get("kind") == "StatefulSet"
               and r["inputs"]["metadata"]["name"] == "llama-3-8b")
    return next(c for c in sts["inputs"]["spec"]["template"]["spec"]["containers"] if c["name"] == "triton")


def test_one_policy_per_rule_with_unique_names_and_levels():
    ps = policies()
    names = [p.name for p in ps]
    assert len(names) == len(set(names)) >= 15
    assert {p.enforcement_level for p in ps} <= {EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY}


def test_the_planned_stack_passes_the_pack(resources):
    assert run(resources) == []


def test_a_violation_is_reported_with_the_rule_and_what_to_change(resources):
    broken = copy.deepcopy(resources)
    args = _triton(broken)["args"]
    args.remove("--enable-kserve-frontends")
    reported = run(broken)
    assert reported == ["[triton-locked-down] run Triton's OpenAI frontend with --enable-kserve-frontends "
                        "(the probes ask the KServe endpoints)"]


def test_nonproduction_config_relaxes_exactly_the_rules_that_read_production():
    import inspect

    from llm_infra_policies import all_rules

    reads_production = {r.id for r in all_rules() if ".production" in inspect.getsource(r.check)}
    assert set(NONPRODUCTION) == reads_production
    assert all(v == {"production": False} for v in NONPRODUCTION.values())


def test_production_is_the_default_and_turns_on_production_rules(resources):
    assert any(m.startswith("[triton-availability]") for m in run(resources, production=True))


def test_values_unknown_at_preview_do_not_fire(resources):
    unknown = copy.deepcopy(resources)
    _triton(unknown)["securityContext"]["allowPrivilegeEscalation"] = UNKNOWN_BOOL
    assert run(unknown) == []


def test_an_unprotected_key_is_reported(resources):
    key = {"type": "aws:kms/key:Key", "name": "key", "protect": False, "inputs": {"enableKeyRotation": True}}
    reported = run([*resources, key])
    assert any(m.startswith("[keys-protected-and-retained] protect the key") for m in reported)


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return json.loads((Path(os.environ["LLM_INFRA_PLAN_DIR"]) / "cases.json").read_text())


def test_the_pack_reports_exactly_what_the_plan_finds(cases):
    # Every shipped stack, and every rule's negative case (a shipped stack's plan, broken).
    assert len(cases) > 60
    disagreements = {}
    for case in cases:
        reported = sorted(run(case["resources"], case["production"], case["accounts"]))
        if reported != case["expected"]:
            disagreements[case["name"]] = {"pack": reported, "plan": case["expected"]}
    assert disagreements == {}
