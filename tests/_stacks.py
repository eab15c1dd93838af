"""Each stack runs once per test session, through the same harness as `llm-infra plan`."""

from __future__ import annotations

from functools import lru_cache

from llm_infra.plan import run_stack, stack_names
from llm_infra.testing import ProgramResult

STACKS = stack_names()


@lru_cache(maxsize=None)
def stack(name: str) -> ProgramResult:
    return run_stack(name)
