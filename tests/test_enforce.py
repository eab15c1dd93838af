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


def test_the_check_reads_config_as_the_cli_hands_it_over_and_never_a_secret(monkeypatch):
    import json

    import pulumi

    from llm_infra.enforce import _running_config
    from llm_infra.plan import SECRET_PLACEHOLDER

    raw, _ = stack_config("existing")
    # The Pulumi CLI passes config to the language host as JSON strings in PULUMI_CONFIG.
    env = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    env["llm-infra:kubeconfig"] = "apiVersion: v1 # the real kubeconfig"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(env))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["llm-infra:kubeconfig"]))
    monkeypatch.setattr(pulumi, "get_stack", lambda: "existing")
    config, secret_keys, stack_name = _running_config()
    assert config["llm-infra:kubeconfig"] == SECRET_PLACEHOLDER
    assert secret_keys == ["llm-infra:kubeconfig"]
    assert config["llm-infra:models"] == raw["llm-infra:models"]
    assert stack_name == "existing"
