"""The stack enforces its own mandatory rules before registering anything (SECURITY.md 49).

`pulumi up` without `--policy-pack` runs the stack program exactly as these tests do
under the mock engine (`checks_itself=True`): the program plans itself in a child process,
evaluates every rule, and refuses a mandatory violation before its first registration.
"""

from __future__ import annotations

import copy

import pytest

from llm_infra.config import ConfigError
from llm_infra.plan import run_stack_program, stack_config

from _stacks import stack


def _existing_with(change) -> tuple[dict, list[str]]:
    raw, secret = stack_config("existing")
    raw = copy.deepcopy(raw)
    change(raw)
    return raw, secret


def test_a_mandatory_violation_stops_the_stack_before_anything_is_registered():
    def unpinned_image(raw):
        raw["llm-infra:models"][0]["image"] = "nvcr.io/nvidia/tritonserver:latest"

    raw, secret = _existing_with(unpinned_image)
    registered: list[str] = []
    with pytest.raises(ConfigError) as info:
        run_stack_program(raw, secret, stack="existing", on_register=registered.append, checks_itself=True)
    assert registered == []
    # Refused either by the config (a field) or by the stack's own policy check (a rule): never registered.
    assert any(p.startswith(("policy images-pinned: StatefulSet llm-serving/llama-3-8b:", "models[0].image"))
               for p in info.value.problems), info.value.problems


def test_a_stack_that_keeps_every_rule_passes_its_own_check():
    raw, secret = stack_config("existing")
    result = run_stack_program(raw, secret, stack="existing", checks_itself=True)
    assert sorted(r.urn for r in result.resources) == sorted(r.urn for r in stack("existing").resources)


def test_the_plan_does_not_check_twice(monkeypatch):
    import llm_infra.enforce as enforce

    monkeypatch.setattr(enforce.subprocess, "run", lambda *a, **k: pytest.fail("the plan ran the self-check"))
    raw, secret = stack_config("existing")
    run_stack_program(raw, secret, stack="existing")
