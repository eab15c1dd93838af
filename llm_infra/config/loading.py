"""Reading a stack's config: from the engine's strings to a validated `StackConfig`, and pydantic's
errors translated into one line per field."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .base import ConfigError, _DNS_LABEL, _FieldError, _Problems, shown
from .models import CONFIG_NAMESPACE, SECRET_KEYS, StackConfig


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith(("function-", "union[", "literal[")) and part not in {
            "str", "int", "float", "bool", "list[...]", "dict[...]", "constrained-str",
        }:
            out += f".{part}" if out else part
    return out


def _describe(error: Mapping[str, Any]) -> list[str]:
    path = _path(error["loc"])
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, _Problems):
        prefix = f"{path}." if path else ""
        return [prefix + p for p in inner.problems]
    if isinstance(inner, _FieldError):
        full = f"{path}.{inner.field}" if path else inner.field
        return [f"{full}: {inner.message}"]
    given = error.get("input")
    kind = error["type"]
    if kind == "extra_forbidden":
        return [f"{path}: unknown key (expected one of the documented fields), got {shown(given)}"]
    if kind == "missing":
        return [f"{path}: required, got nothing"]
    msg = error["msg"]
    if isinstance(inner, ValueError):
        msg = str(inner)
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    else:
        msg = re.sub(r"^(Input|String|List|Value|Dictionary|Float|Integer) should (be |have )?", "", msg)
        msg = re.sub(r" after validation, not \d+$", "", msg)
        if _DNS_LABEL in msg:
            msg = "a DNS label (lowercase letters, digits and '-', starting with a letter)"
        msg = f"expected {msg}, got {shown(given)}"
    return [f"{path}: {msg}"]


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate a plain mapping (keys without the `llm-infra:` prefix). Raises ConfigError."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"(root): expected a mapping of llm-infra config keys, got {type(raw).__name__}")
    decoded: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        try:
            decoded[key] = from_engine(key, value)
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
    from ..guardrails import text_problems

    problems += text_problems(decoded)
    if problems:
        raise ConfigError(problems)
    try:
        return StackConfig.model_validate(decoded)
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None


def _problems(exc: ValidationError, prefix: str = "") -> list[str]:
    problems: list[str] = []
    for err in exc.errors():
        for line in _describe(err):
            if prefix + line not in problems:
                problems.append(prefix + line)
    return problems


def load_stack_config() -> StackConfig:
    """Read and validate the running stack's `llm-infra:*` config (before any resource is registered)."""
    import pulumi.runtime.config as runtime_config

    # The CLI hands config over as PULUMI_CONFIG; the runtime (and the mock engine) as a context var.
    everything = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for full_key, value in everything.items():
        namespace, _, key = full_key.partition(":")
        if namespace != CONFIG_NAMESPACE:
            continue
        if key in SECRET_KEYS:
            if not (runtime_config.is_config_secret(full_key) or full_key in runtime_config.get_config_secret_keys_env()):
                problems.append(f"{key}: expected a secret (pulumi config set --secret {full_key} ...), got a plaintext value")
            continue
        raw[key] = value
    if problems:
        raise ConfigError(problems)
    config = parse_stack_config(raw)
    kubeconfig = f"{CONFIG_NAMESPACE}:kubeconfig"
    if config.cloud == "existing" and everything.get(kubeconfig) in (None, ""):
        raise ConfigError(f"kubeconfig: expected the existing cluster's kubeconfig for cloud 'existing' (pulumi config "
                          f"set --secret {kubeconfig} -- \"$(cat ~/.kube/config)\"), got nothing")
    return config


# Top-level keys whose value is one scalar; every other key holds JSON (a list or a mapping).
_SCALAR_KEYS = {"cloud": str, "environment": str, "region": str, "isolation": str, "production": bool}


def from_engine(key: str, value: Any) -> Any:
    """A top-level config value as the program receives it from the engine, decoded.

    The engine hands every value over as a string (`pulumi config set llm-infra:production
    false` stores "false"; a YAML `false` arrives as "false" too); structured values as JSON.
    A string key is taken as it is, a boolean is exactly "true" or "false" (what Pulumi.yaml's
    `type: boolean` admits), anything else is parsed as JSON with numbers as Go reads them.
    """
    if not isinstance(value, str):  # a Python caller of parse_stack_config, or the mock harness
        return value
    kind = _SCALAR_KEYS.get(key)
    if kind is str:
        return value
    if kind is bool:
        if value not in ("true", "false"):
            raise ValueError(f"expected true or false, got {shown(value)}")
        return value == "true"
    try:
        return json.loads(value, parse_int=_json_int, parse_constant=_json_constant)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            return value  # not JSON: the model says what it expected instead of this text
        raise


def _json_int(text: str) -> int | float:
    """encoding/json with UseNumber, then Int64, then Float64 (object.go unmarshalObject)."""
    if len(text.lstrip("-")) <= 20:
        number = int(text)
        if -(1 << 63) <= number <= (1 << 64) - 1:
            return number
    value = float(text) if len(text) < 400 else math.inf
    if math.isinf(value):
        raise ValueError(f"expected a number Pulumi can represent, got {shown(text)}")
    return value


def _json_constant(text: str) -> float:
    return float(text)  # NaN and infinities are refused, with their path, by guardrails.text_problems
