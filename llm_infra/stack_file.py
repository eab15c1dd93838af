"""Pulumi.yaml and Pulumi.<stack>.yaml read exactly as the Pulumi CLI reads them.

The offline plan must see the config the engine hands a program, and must refuse what
the CLI refuses, so this module mirrors the CLI's reading step by step, each with its source
(read 2026-12-01 at pulumi/pulumi 1b59498 and go-yaml/yaml v3 f6f7691):

- YAML is decoded by gopkg.in/yaml.v3 into `any` (`sdk/go/common/encoding/marshal.go`):
  YAML 1.2-style booleans (`true`/`false` in three spellings; `yes`, `no`, `on`, `off`
  are strings), `null`/`~`/empty as null, integers through Go's `ParseInt(_, 0, 64)` with
  `_` removed, then `ParseUint`, then floats; timestamps stay strings (`resolve.go`,
  `decode.go`). Duplicate keys are an error ("mapping key already defined"), and so is
  excessive aliasing (an alias bomb).
- Non-string keys are an error ("expected only string keys",
  `workspace.SimplifyMarshalledValue`); keys without a namespace get the project's
  (`stackConfigNamespacedWithProject`).
- The CLI then encodes the document and decodes it once more into its config types: an
  unquoted date becomes Go's time.Time and reaches the program as `2024-01-01 00:00:00
  +0000 UTC` (refused here: quote it).
- A top-level value reaches the program as a string: booleans and numbers as their JSON
  text ("false", "3"), null as "", strings as they are, lists and maps as JSON
  (`resource/config/object.go`, `MarshalString`); NaN and infinities cannot be marshalled.
- Project config (`pkg/workspace/config.go`, `mergeConfig`): a key the project declares
  in its own namespace without `default` or `value` is required; a default fills a key the
  stack does not set; a key declared `secret` must be set with `--secret`; a declared type
  is checked (`ValidateConfigValue`: booleans are `true`/`false` or the strings "true"/"false").

`tools/stackread` runs those very Go packages over stack files, and the tests compare its
output with this module's (`tests/test_stack_file.py`). Where this module is stricter than
the CLI it says why: unknown tags (`!!python/...`, which the CLI silently drops), non-string
keys (which it stringifies), unquoted dates, non-ASCII keys, alias expansion past a bound.

PyYAML is the parser (it is already a dependency); a loader subclass replaces its YAML 1.1
resolver with yaml.v3's rules and refuses duplicate keys, unknown tags, recursive anchors and
alias expansion beyond a bound. ruamel.yaml in 1.2 mode was the other candidate: it refuses
duplicates, but resolves timestamps to dates, reads `0777` as a string where yaml.v3 reads 511,
and bounds no alias expansion, so it would need the same overrides on top of a new dependency.

Every error is a `StackFileError` (a `ConfigError`): one line naming the file, the line and
the key, echoing at most a short prefix of the value.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .config import ConfigError, shown

# yaml.v3 lets ~400,000 decode steps come from aliases (decode.go, allowedAliasRatio); a
# stack config has a few hundred nodes, so far fewer are allowed here.
MAX_EXPANDED_NODES = 100_000
MAX_FILE_BYTES = 1 << 20

_PLAIN = "tag:llm-infra:plain"
_V3 = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {f"{_V3}{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?"
    r"([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)?$"
)
_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT64 = (1 << 64) - 1
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOATS = {
    **{s: math.nan for s in (".nan", ".NaN", ".NAN")},
    **{s: math.inf for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: -math.inf for s in ("-.inf", "-.Inf", "-.INF")},
}


class StackFileError(ConfigError):
    """A project or stack file the Pulumi CLI would not read, or not the way it is written."""


def _go_parse_int(text: str, base: int = 0) -> int | None:
    """Go's strconv.ParseInt/ParseUint text rules (base 0: 0x, 0o, 0b, and a leading 0 for octal)."""
    sign = 1
    body = text
    if body[:1] in ("+", "-"):  # not `in "+-"`: the empty string is in every string
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    if base == 0:
        low = body[:2].lower()
        if low in ("0x", "0o", "0b"):
            base, body = {"0x": 16, "0o": 8, "0b": 2}[low], body[2:]
        elif body[0] == "0" and len(body) > 1:
            base, body = 8, body[1:]
        else:
            base = 10
    digits = "0123456789abcdef"[:base]
    if not body or any(c not in digits for c in body.lower()):
        return None
    if len(body) > 70:  # beyond 64 bits in any base; never builds a huge int
        return None
    return sign * int(body, base)


def resolve_plain(text: str) -> Any:
    """What yaml.v3 decodes an untagged plain scalar into, for an `any` target (resolve.go)."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text == "<<":
        return text
    hint = text[0]
    if hint == ".":
        return _go_float(text) if _YAML_FLOAT.match(text) else text
    if hint not in "+-0123456789":
        return text
    if _TIMESTAMP.match(text):
        return _Timestamp(text)
    plain = text.replace("_", "")
    value = _go_parse_int(plain)
    if value is not None and _INT64[0] <= value <= _UINT64:
        return value
    if _YAML_FLOAT.match(plain):
        number = _go_float(plain)
        if number is not None:
            return number
    for prefix, base in (("0b", 2), ("0o", 8)):
        for sign in ("", "-"):
            if plain.startswith(sign + prefix):
                value = _go_parse_int(sign + plain[len(sign) + 2:], base)
                if value is not None and _INT64[0] <= value <= _UINT64:
                    return value
    return text


def _go_float(text: str) -> float | None:
    """strconv.ParseFloat: an out-of-range value is an error (the scalar then stays a string)."""
    if len(text) > 400:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isinf(value) else value


class _Timestamp(str):
    """An unquoted date or time. yaml.v3 hands it to `any` as text, but the CLI encodes and decodes
    the stack once more (LoadProjectStackBytes), which turns it into Go's time.Time and hands the
    program `2024-01-01 00:00:00 +0000 UTC`. Refused: quoted, it stays the text written."""


class _Loader(yaml.SafeLoader):
    """PyYAML's parser and composer with yaml.v3's scalar rules; refuses duplicates and unknown tags."""

    yaml_implicit_resolvers: dict = {}

    def resolve(self, kind, value, implicit):  # noqa: ANN001 PyYAML's signature
        if kind is ScalarNode and implicit[0]:
            return f"{_V3}merge" if value == "<<" else _PLAIN
        return super().resolve(kind, value, implicit)

    def construct_object(self, node, deep=False):  # noqa: ANN001
        if node.tag not in _ALLOWED_TAGS and node.tag not in (_PLAIN, f"{_V3}merge"):
            raise _NodeError(node, f"unsupported tag {shown(node.tag)} (the stack config holds plain values)")
        return super().construct_object(node, deep=deep)

    def construct_plain(self, node):  # noqa: ANN001
        return resolve_plain(node.value)

    def construct_tagged_scalar(self, node):  # noqa: ANN001
        tag = node.tag[len(_V3):]
        if tag == "str":
            return node.value
        if tag == "timestamp":
            return _Timestamp(node.value)
        value = resolve_plain(node.value)
        ok = {"int": type(value) is int, "bool": type(value) is bool, "null": value is None,
              "float": type(value) in (int, float)}[tag]
        if not ok:
            raise _NodeError(node, f"cannot decode {shown(node.value)} as !!{tag}")
        return float(value) if tag == "float" else value

    def construct_mapping(self, node, deep=False):  # noqa: ANN001
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == f"{_V3}merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str) or isinstance(key, _Timestamp):
                raise _NodeError(key_node, f"expected a string key (quote it; the CLI would turn it into the text "
                                           f"Go prints for it), got {shown(str(key) if isinstance(key, str) else key)}")
            if key in seen:
                raise _NodeError(key_node, f"mapping key {shown(key)} already defined at line {seen[key]}")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


for _tag in ("int", "float", "bool", "null", "str", "timestamp"):
    _Loader.add_constructor(f"{_V3}{_tag}", _Loader.construct_tagged_scalar)
_Loader.add_constructor(_PLAIN, _Loader.construct_plain)
# types-PyYAML binds these inherited constructors to SafeConstructor, not to the subclass registering them.
_Loader.add_constructor(f"{_V3}map", _Loader.construct_yaml_map)  # type: ignore[type-var]
_Loader.add_constructor(f"{_V3}seq", _Loader.construct_yaml_seq)  # type: ignore[type-var]


class _NodeError(Exception):
    def __init__(self, node: Node, message: str, line: int | None = None) -> None:
        self.line = line or node.start_mark.line + 1
        self.message = message
        super().__init__(message)


def _expanded_size(node: Node, memo: dict[int, int], active: set[int]) -> int:
    """Nodes after expanding every alias, computed once per node (so a bomb is measured, not built)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _NodeError(node, "anchor value contains itself (a recursive alias)")
    active.add(key)
    total = 1
    if isinstance(node, SequenceNode):
        for child in node.value:
            total += _expanded_size(child, memo, active)
    elif isinstance(node, MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, memo, active) + _expanded_size(v, memo, active)
    active.discard(key)
    memo[key] = min(total, MAX_EXPANDED_NODES + 1)
    return memo[key]


def _plain_copy(value: Any, node: Node) -> Any:
    """The decoded document with aliases expanded into independent values (bounded above)."""
    if isinstance(value, dict):
        return {k: _plain_copy(v, node) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_copy(v, node) for v in value]
    if isinstance(value, _Timestamp):
        line = _find_line(node, value)
        raise _NodeError(node, f"{shown(str(value))} is an unquoted date or time, which the Pulumi CLI hands the "
                               "program as Go prints a time ('2024-01-01 00:00:00 +0000 UTC'); quote it", line)
    return value


def _find_line(node: Node, text: str) -> int | None:
    stack = [node]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ScalarNode) and current.value == text and current.style is None:
            return current.start_mark.line + 1
        if isinstance(current, SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, MappingNode):
            stack.extend(n for pair in current.value for n in pair)
    return None


def load_yaml(text: str, source: str) -> Any:
    """Decode one YAML document as yaml.v3 decodes it into `any`. Raises StackFileError."""
    if len(text) > MAX_FILE_BYTES:
        raise StackFileError(f"{source}: expected a file under {MAX_FILE_BYTES // 1024} KiB, got {len(text)} characters")
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, set()) > MAX_EXPANDED_NODES:
            raise _NodeError(node, f"document contains excessive aliasing (more than {MAX_EXPANDED_NODES} "
                                   "values once aliases are expanded)")
        return _plain_copy(loader.construct_document(node), node)
    except _NodeError as exc:
        raise StackFileError(f"{source}: line {exc.line}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        what = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise StackFileError(f"{source}: {where}invalid YAML: {what}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())
        raise StackFileError(f"{source}: invalid YAML: {shown(what, 120)}") from None
    finally:
        if loader is not None:
            loader.dispose()


def go_json_number(value: int | float, where: str) -> str:
    """A number as Go's encoding/json writes it (object.go MarshalString); NaN and infinities fail there."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        raise StackFileError(f"{where}: expected a finite number (the Pulumi CLI cannot marshal it), got {value!r}")
    if value == 0:
        return "0"
    if 1e-6 <= abs(value) < 1e21:
        text = format(decimal.Decimal(repr(value)), "f")
        return text[:-2] if text.endswith(".0") else text
    mantissa, _, exponent = repr(value).partition("e")
    return f"{mantissa}e{'-' if exponent.startswith('-') else '+'}{int(exponent.lstrip('+-'))}"


def engine_string(value: Any, where: str) -> Any:
    """A top-level config value as the engine hands it to the program: scalars as text, structures as they are.

    Structured values stay Python lists and dicts here (the harness serialises them to JSON,
    as the engine does); everything else becomes the exact string the program receives.
    """
    if value is None:
        return ""  # config.Value of a null: the empty string
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_json_number(value, where)
    _finite(value, where)
    return _json_roundtrip(value, where)


def _json_roundtrip(value: Any, where: str) -> Any:
    """A structured value as the program parses the CLI's JSON of it: Go writes a float such as
    2.000000000000001e16 as `20000000000000010`, which the program reads back as an integer."""
    if isinstance(value, float):
        return json.loads(go_json_number(value, where))
    if isinstance(value, dict):
        return {k: _json_roundtrip(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_json_roundtrip(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _finite(value: Any, where: str) -> None:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise StackFileError(f"{where}: expected a finite number (the Pulumi CLI cannot marshal it), got {value!r}")
    if isinstance(value, dict):
        for k, v in value.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite(v, f"{where}[{i}]")


def is_secure(value: Any) -> bool:
    """`{secure: CIPHERTEXT}`: a value set with `pulumi config set --secret` (object.go isSecureValue)."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


def _contains_secure(value: Any) -> bool:
    if is_secure(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secure(v) for v in value)
    return False


# --- the project file --------------------------------------------------------------------


def read_project_file(path: Path) -> dict[str, Any]:
    """Pulumi.yaml as a mapping (the CLI's ValidateProject: a mapping with a non-empty string name)."""
    data = load_yaml(_read(path), str(path))
    if not isinstance(data, dict):
        raise StackFileError(f"{path}: expected a mapping (name, runtime, ...), got {_kind(data)}")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise StackFileError(f"{path}: name: expected a non-empty string, got {shown(data.get('name'))}")
    config = data.get("config")
    if config is not None and not isinstance(config, dict):
        raise StackFileError(f"{path}: config: expected a mapping of config key declarations, got {_kind(config)}")
    return data


def declared_config(project_name: str, project_data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The project's config declarations, by full key (`llm-infra:production`)."""
    out: dict[str, dict[str, Any]] = {}
    for key, decl in (project_data.get("config") or {}).items():
        full = key if ":" in key else f"{project_name}:{key}"
        out[full] = decl if isinstance(decl, dict) else {"default": decl}
    return out


# --- the stack file ----------------------------------------------------------------------


def read_stack_file(path: Path, project_name: str, declarations: dict[str, dict[str, Any]],
                    stack: str) -> tuple[dict[str, Any], list[str]]:
    """The stack's config as the engine hands it to the program, and which keys are secret.

    Top-level scalars are the strings the program receives; structured values are lists
    and dicts (JSON on the wire). Secret values are left out (the caller decides on a
    placeholder); project defaults are applied and required keys checked as `mergeConfig` does.
    """
    data = load_yaml(_read(path), str(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path}: expected a mapping with a `config` key, got {_kind(data)}")
    raw_config = data.get("config")
    if raw_config is None:
        raw_config = {}
    if not isinstance(raw_config, dict):
        raise StackFileError(f"{path}: config: expected a mapping of config keys, got {_kind(raw_config)}")
    config: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in raw_config.items():
        full = key if ":" in key else f"{project_name}:{key}"
        _check_key(path, full)
        if full in config or full in secret:
            raise StackFileError(f"{path}: config.{shown(full)}: set twice (once with and once without the namespace)")
        if is_secure(value):
            secret.add(full)
            continue
        if _contains_secure(value) and full.startswith(f"{project_name}:"):
            raise StackFileError(f"{path}: config.{full}: expected plain values (only whole keys such as "
                                 "kubeconfig are secret), got a secret inside")
        config[full] = engine_string(value, f"{path}: config.{full}")
    _apply_project_config(path, stack, project_name, declarations, config, secret)
    return config, sorted(secret)


def _apply_project_config(path: Path, stack: str, project_name: str, declarations: dict[str, dict[str, Any]],
                          config: dict[str, Any], secret: set[str]) -> None:
    """mergeConfig: required keys, defaults, secrets and declared types, in the CLI's order."""
    missing = []
    for key in sorted(declarations):
        decl = declarations[key]
        found = key in config or key in secret
        has_default = "default" in decl or "value" in decl
        if not found and not has_default and key.startswith(f"{project_name}:"):
            missing.append(key.partition(":")[2])
        elif not found and has_default:
            value = decl.get("default", decl.get("value"))
            config[key] = engine_string(value, f"Pulumi.yaml: config.{key}.default")
    if missing:
        names = ", ".join(f"'{k}'" for k in missing)
        raise StackFileError(f"{path}: stack {stack!r} is missing configuration value{'s' if len(missing) > 1 else ''} "
                             f"{names}, which Pulumi.yaml declares without a default (the CLI stops before the program runs)")
    for key in sorted(declarations):
        decl = declarations[key]
        name = key.partition(":")[2]
        if decl.get("secret") and key not in secret:
            raise StackFileError(f"{path}: config.{key}: expected a secret (pulumi config set --secret {key} ...), "
                                 "got a plaintext value, which the CLI refuses for a key Pulumi.yaml declares secret")
        kind = decl.get("type")
        if kind and key in config and not _declared_type_ok(kind, decl.get("items"), config[key]):
            raise StackFileError(f"{path}: config.{key}: expected a {kind} (Pulumi.yaml declares {name} {kind}), "
                                 f"got {shown(config[key])}")


def _declared_type_ok(kind: str, items: Any, value: Any) -> bool:
    """ValidateConfigValue over the value the CLI holds (a top-level scalar is its string form)."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, str) and re.fullmatch(r"[-+]?[0-9]+", value) is not None and len(value) < 20
    if kind == "boolean":
        return value in ("true", "false")
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        item = items or {}
        return isinstance(value, list) and all(
            _declared_type_ok(item.get("type", ""), item.get("items"), v if not isinstance(v, bool | int | float)
                              else engine_string(v, "")) or item.get("type") == "boolean" and isinstance(v, bool)
            for v in value)
    return False


_LOOKALIKE = re.compile(r"[^\x21-\x7e]")


def _check_key(path: Path, full: str) -> None:
    """Config keys are printable ASCII: a trailing newline or a look-alike letter would be a different key."""
    bad = _LOOKALIKE.search(full)
    if bad:
        raise StackFileError(f"{path}: config.{shown(full)}: expected a key of printable ASCII letters "
                             f"(a look-alike or invisible character is another key), got {bad.group()!a} "
                             f"at position {bad.start()}")


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StackFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise StackFileError(f"{path}: expected a file under {MAX_FILE_BYTES // 1024} KiB, got {len(data)} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StackFileError(f"{path}: expected UTF-8 text, got an invalid byte at offset {exc.start}") from None


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)
