"""The stack enforces its own mandatory rules, with or without `--policy-pack` (SECURITY.md 49).

Before the stack program registers its first resource, `refuse_mandatory_violations()`
plans the same program with the same config under the mock engine, in a child process
(Pulumi's runtime settings are process-wide, so a mock run cannot share the process with
the real one), and evaluates every rule of `llm_infra.policies` over what it would
register: the resources and the stack outputs, exactly as `llm-infra plan` does. A
mandatory violation stops the program with a `ConfigError` that names each rule and
resource, so `pulumi up` registers nothing.

The offline plan itself does not run the check again: it evaluates the rules over its
own run (`offline_plan()` marks it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_offline_depth = 0


@contextmanager
def offline_plan() -> Iterator[None]:
    """Marks a run under the mock engine whose caller evaluates the rules itself."""
    global _offline_depth
    _offline_depth += 1
    try:
        yield
    finally:
        _offline_depth -= 1


def _running_config() -> tuple[dict[str, Any], list[str], str]:
    """(config with full keys, secret keys, stack name) of the running program, secrets never read."""
    import pulumi
    import pulumi.runtime.config as runtime_config

    from .plan import SECRET_PLACEHOLDER

    config: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    for key in secret_keys:
        if key in config:
            config[key] = SECRET_PLACEHOLDER  # the plan shows where a secret flows, never its value
    for key, value in list(config.items()):
        if isinstance(value, str):
            try:
                config[key] = json.loads(value)
            except ValueError:
                pass
    return config, sorted(secret_keys), pulumi.get_stack()


def refuse_mandatory_violations() -> None:
    """Raise ConfigError listing every mandatory violation of the program's plan; nothing is registered before."""
    if _offline_depth:
        return
    from .config import ConfigError

    config, secret_keys, stack = _running_config()
    request = json.dumps({"config": config, "secret_keys": secret_keys, "stack": stack})
    proc = subprocess.run([sys.executable, "-m", "llm_infra.enforce"], input=request, capture_output=True,
                          text=True, cwd=os.getcwd(), timeout=900)
    if proc.returncode == 2:  # the config itself was refused: the child printed the problems
        raise ConfigError(_answer(proc.stdout)["problems"])
    if proc.returncode != 0:
        raise RuntimeError(f"llm-infra: planning the stack to check its rules failed:\n{proc.stderr[-4000:]}")
    violations = _answer(proc.stdout)["violations"]
    if violations:
        raise ConfigError([f"policy {v['rule']}: {v['resource']}: {v['message']}" for v in violations])


def _answer(stdout: str) -> dict[str, Any]:
    """The child's answer: its last line (the program may print before it)."""
    return json.loads(stdout.strip().splitlines()[-1])


def _main() -> int:
    from .config import ConfigError
    from .plan import evaluate_plan, run_stack_program
    from .policies import MANDATORY

    request = json.loads(sys.stdin.read())
    try:
        with offline_plan():
            result = run_stack_program(request["config"], request["secret_keys"], stack=request["stack"])
    except ConfigError as error:
        print(json.dumps({"problems": error.problems}))
        return 2
    violations = [v for v in evaluate_plan(request["config"], result) if v.enforcement == MANDATORY]
    print(json.dumps({"violations": [{"rule": v.rule, "resource": v.resource, "message": v.message}
                                     for v in violations]}))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
