"""Each stack runs once per test session, through the same harness as `llm-infra plan`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pytest

from llm_infra.config import ConfigError
from llm_infra.plan import run_stack, run_stack_program, stack_config
from llm_infra.testing import ProgramResult

# The stacks this repository ships, named here rather than found in stacks/: a stack
# someone adds (better: keeps in their own project, `llm-infra init`) never changes what
# the library's tests run.
STACKS = ("dev", "staging", "prod", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod", "existing")


@lru_cache(maxsize=None)
def stack(name: str) -> ProgramResult:
    return run_stack(name)


def with_changed_config(name: str, change: Callable[[dict[str, Any]], None]) -> ProgramResult:
    """Run stack `name` with its config (full keys) changed in place by `change`."""
    raw, secret = stack_config(name)
    raw = copy.deepcopy(raw)
    change(raw)
    return run_stack_program(raw, secret, stack=name)


def rejected(name: str, change: Callable[[dict[str, Any]], None]) -> list[str]:
    """The problems a changed config of stack `name` is rejected with; asserts nothing was registered."""
    raw, secret = stack_config(name)
    raw = copy.deepcopy(raw)
    change(raw)
    registered: list[str] = []
    with pytest.raises(ConfigError) as info:
        run_stack_program(raw, secret, stack=name, on_register=registered.append)
    assert registered == [], registered
    return info.value.problems
