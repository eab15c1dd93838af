"""The gates that every rendered Kubernetes manifest must pass. The tests import this module.

- `validate_builtin(obj, version)` checks a built-in kind against the strict OpenAPI schema of
  that Kubernetes version, using kubernetes-validate. Strict mode rejects unknown fields.
- `validate_crd(obj)` checks a custom resource against the reviewed schema of its CRD in
  `tests/fixtures/crds/`, using jsonschema. It also rejects every field that the API server would
  prune, and checks `metadata` against the Kubernetes ObjectMeta schema.
- `run_checkov(manifests, tmp_path)` runs checkov's Kubernetes checks from checkov's own
  virtualenv and returns the checks that failed.
- `suppression_problems(obj)` lists the checkov suppressions on an object that are not of the
  one accepted form, `checkov.io/skipN: CKV_K8S_<n>=<reason>`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate import utils as _kv_utils
from referencing import Registry, Resource

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
CRD_FIXTURES = TESTS_DIR / "fixtures" / "crds"
CHECKOV_VERSION = "3.3.30"
CHECKOV_SETUP_HINT = (
    "create it as .ci/run does (scripts/setup-test.sh): "
    f"python -m venv .venv-checkov && .venv-checkov/bin/pip install checkov=={CHECKOV_VERSION}; "
    "or set LLM_INFRA_CHECKOV to a checkov executable"
)

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class ManifestCheckError(AssertionError):
    """A manifest failed a gate. The message names the object's apiVersion, kind, namespace and name."""


class CheckovUnavailable(RuntimeError):
    """No checkov executable. A missing scanner is an error, never a skip."""


def describe(obj: Mapping[str, Any]) -> str:
    """`apiVersion Kind namespace/name`, for messages."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or "<no name>"
    namespace = meta.get("namespace")
    return f"{obj.get('apiVersion', '<no apiVersion>')} {obj.get('kind', '<no kind>')} {namespace + '/' if namespace else ''}{name}"


def resource_id(obj: Mapping[str, Any]) -> str:
    """`Kind/namespace/name`, with `-` for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace') or '-'}/{meta.get('name')}"


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> (`apps`, `v1`); `v1` -> (``, `v1`)."""
    group, _, version = api_version.rpartition("/")
    return group, version


def _format_path(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


# --------------------------------------------------------------------------- built-in kinds


def _schema_dir(version: str) -> str:
    """kubernetes-validate's strict schema directory for `version`. Like the library, this takes
    the newest bundled release that is not newer than `version`."""

    def minor(v: str) -> tuple[int, int]:
        major, minor_, *_ = v.lstrip("v").split(".")
        return int(major), int(minor_)

    candidates = [v for v in _kv_utils.all_versions() if minor(v) <= minor(version)]
    if not candidates:
        raise ManifestCheckError(f"kubernetes-validate bundles no schemas for Kubernetes {version}")
    return f"v{candidates[-1]}-local-strict"


@functools.lru_cache(maxsize=None)
def _definitions(version: str) -> dict[str, Any]:
    return _kv_utils.schema_contents(f"kubernetes-json-schema/{_schema_dir(version)}/_definitions.json", version)


@functools.lru_cache(maxsize=None)
def builtin_groups() -> frozenset[str]:
    """The API groups that kube-apiserver serves itself, taken from the newest definitions that
    kubernetes-validate bundles. The core group is ``."""
    defs = _definitions(kubernetes_validate.latest_version())["$defs"]
    return frozenset(
        gvk["group"]
        for schema in defs.values()
        if isinstance(schema, dict)
        for gvk in schema.get("x-kubernetes-group-version-kind", [])
    )


def is_crd_kind(obj: Mapping[str, Any]) -> bool:
    """True when the object's API group is not built into Kubernetes, so a CRD defines it.
    This is decided by group, not by name: some CRDs live in `*.k8s.io` groups, for example
    `gateway.networking.k8s.io` and `snapshot.storage.k8s.io`."""
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    return group not in builtin_groups()


def validate_builtin(obj: Mapping[str, Any], version: str) -> None:
    """Strict validation against Kubernetes `version`'s schema. Unknown fields, wrong types and
    APIs that this version does not serve all raise `ManifestCheckError`."""
    if is_crd_kind(obj):
        raise ManifestCheckError(f"{describe(obj)}: not a built-in Kubernetes kind; check it with validate_crd")
    try:
        kubernetes_validate.validate(dict(obj), version, strict=True)
    except kubernetes_validate.ValidationError as err:
        raise ManifestCheckError(
            f"{describe(obj)} is invalid for Kubernetes {version} at {_format_path(list(err.absolute_path))}: {err.message}"
        ) from None
    except kubernetes_validate.SchemaNotFoundError as err:
        raise ManifestCheckError(f"{describe(obj)}: Kubernetes {version} does not serve it ({err.message})") from None
    except _kv_utils.VersionNotSupportedError as err:
        raise ManifestCheckError(f"{describe(obj)}: {err.message}") from None


# --------------------------------------------------------------------------- custom resources


def crd_fixture_path(obj: Mapping[str, Any]) -> Path:
    """`tests/fixtures/crds/<group>_<version>_<Kind>.json`."""
    group, version = split_api_version(str(obj.get("apiVersion", "")))
    return CRD_FIXTURES / f"{group}_{version}_{obj.get('kind')}.json"


_FLAG_GROUP = re.compile(r"\(\?([imsU]+)\)")


def _depth_at(pattern: str, position: int) -> int:
    depth, escaped, in_class = 0, False, False
    for char in pattern[:position]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
    return depth


@functools.lru_cache(maxsize=None)
def compile_go_regex(pattern: str) -> re.Pattern[str]:
    """Compile a CRD `pattern`, which the API server evaluates with Go's RE2, using Python's `re`.
    The one difference that matters here: RE2 lets a flag group such as `(?i)` stand anywhere
    and apply to the rest of the pattern (prometheus-operator uses `^(?i)(abort|warn)?$`), while
    Python accepts it only at the very start. A top-level `X(?i)Y` is rewritten to the
    equivalent `X(?i:Y)`. Any other pattern that Python cannot compile raises."""
    try:
        return re.compile(pattern)
    except re.error:
        match = _FLAG_GROUP.search(pattern)
        if not match or "U" in match.group(1) or _depth_at(pattern, match.start()) != 0:
            raise
        return compile_go_regex(f"{pattern[: match.start()]}(?{match.group(1)}:{pattern[match.end():]})")


def _go_pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and not compile_go_regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 7 semantics, with `pattern` evaluated the way the API server (Go RE2) evaluates it.
CrdSchemaValidator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _go_pattern})


def _patterns(schema: Any) -> Iterator[str]:
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _patterns(value)


@functools.lru_cache(maxsize=None)
def load_crd_schema(path: Path) -> dict[str, Any]:
    """A fixture schema. It must be a valid Draft 7 schema, because it is checked as one, and
    every `pattern` in it must compile."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    # The metaschema alone. The default format checker would compile each `pattern` with
    # Python's re, which rejects valid RE2 such as `^(?i)...`; compile_go_regex checks them below.
    jsonschema.Draft7Validator(jsonschema.Draft7Validator.META_SCHEMA).validate(schema)
    for pattern in _patterns(schema):
        compile_go_regex(pattern)
    return schema


@functools.lru_cache(maxsize=None)
def _object_meta_validator(version: str) -> jsonschema.protocols.Validator:
    defs = _definitions(version)
    registry = Registry().with_resource(defs["$id"], Resource.from_contents(defs))
    return jsonschema.Draft202012Validator({"$ref": f"{defs['$id']}#/$defs/{_OBJECT_META}"}, registry=registry)


def _object_meta_errors(meta: Any, version: str) -> Iterator[str]:
    validator = _object_meta_validator(version)
    for err in sorted(validator.iter_errors(meta), key=lambda e: list(map(str, e.absolute_path))):
        yield f"{_format_path(['metadata', *err.absolute_path])}: {err.message}"
    if isinstance(meta, Mapping) and not (meta.get("name") or meta.get("generateName")):
        yield "metadata.name: required"


def _structural_errors(value: Any, schema: Any, path: tuple[Any, ...]) -> Iterator[str]:
    """What jsonschema does not check but the API server does: it drops every field that the
    schema does not declare, unless the schema has `additionalProperties` or
    `x-kubernetes-preserve-unknown-fields: true` there. It also enforces
    `x-kubernetes-list-type` set and map uniqueness and integer formats."""
    if not isinstance(schema, Mapping):
        return
    branches = [schema] + [s for key in ("allOf", "anyOf", "oneOf") for s in schema.get(key, []) if isinstance(s, Mapping)]
    preserve = any(s.get("x-kubernetes-preserve-unknown-fields") is True for s in branches)
    declared_type = schema.get("type")

    if isinstance(value, Mapping) and declared_type in (None, "object"):
        properties: dict[str, Any] = {}
        for branch in branches:
            properties.update(branch.get("properties") or {})
        additional = next((b["additionalProperties"] for b in branches if "additionalProperties" in b), None)
        for key, child in value.items():
            if key in properties:
                yield from _structural_errors(child, properties[key], (*path, key))
            elif isinstance(additional, Mapping):
                yield from _structural_errors(child, additional, (*path, key))
            elif additional is True or preserve:
                continue
            else:
                known = ", ".join(sorted(properties)) or "none"
                yield f"{_format_path((*path, key))}: unknown field {key!r}, which the API server would drop (known fields here: {known})"
    elif isinstance(value, list) and declared_type in (None, "array"):
        items = next((b["items"] for b in branches if isinstance(b.get("items"), Mapping)), None)
        if items is not None:
            for index, item in enumerate(value):
                yield from _structural_errors(item, items, (*path, index))
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            seen: list[Any] = []
            for index, item in enumerate(value):
                if item in seen:
                    yield f"{_format_path((*path, index))}: duplicate entry {item!r} in a list of type set"
                seen.append(item)
        elif list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen_keys: set[str] = set()
            for index, item in enumerate(value):
                if not isinstance(item, Mapping):
                    continue
                key = json.dumps([item.get(k) for k in keys], sort_keys=True, default=str)
                if key in seen_keys:
                    yield f"{_format_path((*path, index))}: duplicate {'/'.join(keys)} {key} in a list of type map"
                seen_keys.add(key)
    elif isinstance(value, int) and not isinstance(value, bool) and schema.get("format") in _INT_RANGES:
        low, high = _INT_RANGES[schema["format"]]
        if not low <= value <= high:
            yield f"{_format_path(path)}: {value} is out of range for {schema['format']}"


def crd_errors(obj: Mapping[str, Any], version: str | None = None) -> list[str]:
    """Every reason that `obj` does not match its CRD fixture. `metadata` is checked against
    ObjectMeta of Kubernetes `version`, which defaults to the newest that kubernetes-validate
    bundles."""
    path = crd_fixture_path(obj)
    if not path.is_file():
        raise ManifestCheckError(
            f"{describe(obj)}: no CRD schema fixture {path.relative_to(REPO_ROOT)}. A new custom resource kind "
            "needs its CRD's whole openAPIV3Schema there, with its source in tests/fixtures/crds/SOURCES.md"
        )
    schema = load_crd_schema(path)
    errors = [
        f"{_format_path(list(err.absolute_path))}: {err.message}"
        for err in sorted(CrdSchemaValidator(schema).iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]
    errors += _object_meta_errors(obj.get("metadata"), version or kubernetes_validate.latest_version())
    without_metadata = {k: v for k, v in obj.items() if k != "metadata"}
    errors += _structural_errors(without_metadata, schema, ())
    return errors


def validate_crd(obj: Mapping[str, Any], version: str | None = None) -> None:
    """Raise `ManifestCheckError` with every problem when `obj` does not match its CRD fixture,
    or when its kind has no fixture."""
    errors = crd_errors(obj, version)
    if errors:
        listing = "\n".join(f"  - {e}" for e in errors)
        raise ManifestCheckError(f"{describe(obj)} does not match {crd_fixture_path(obj).name}:\n{listing}")


# --------------------------------------------------------------------------- checkov


def checkov_executable() -> Path:
    """`$LLM_INFRA_CHECKOV`, or `<repo>/.venv-checkov/bin/checkov`."""
    configured = os.environ.get("LLM_INFRA_CHECKOV")
    path = Path(configured) if configured else REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise CheckovUnavailable(f"no checkov executable at {path}: {CHECKOV_SETUP_HINT}")
    return path


def _slug(text: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text or "-"))[:60]


def parse_checkov_output(data: Any, objects_by_file: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Normalise checkov's `-o json` output. That output is a list of reports, or a single report
    when only one framework ran. When nothing was scanned it is a bare summary."""
    reports = data if isinstance(data, list) else [data]
    failed: list[tuple[str, str, str]] = []
    check_names: dict[str, str] = {}
    totals = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
    version = None
    for report in reports:
        if not isinstance(report, Mapping):
            raise ValueError(f"unexpected checkov report: {report!r:.200}")
        summary = report.get("summary", report)
        version = summary.get("checkov_version", version)
        for key in totals:
            totals[key] += int(summary.get(key, 0) or 0)
        if report.get("check_type", "kubernetes") != "kubernetes":
            continue
        for check in (report.get("results") or {}).get("failed_checks", []):
            file_name = Path(check.get("file_abs_path") or check.get("file_path") or "").name
            obj = objects_by_file.get(file_name)
            ident = resource_id(obj) if obj is not None else str(check.get("resource"))
            failed.append((check["check_id"], ident, file_name))
            check_names[check["check_id"]] = check.get("check_name") or ""
    totals["failed_count"] = totals.pop("failed")
    return {**totals, "failed": sorted(set(failed)), "check_names": check_names, "checkov_version": version}


def run_checkov(manifests: Sequence[Mapping[str, Any]], tmp_path: Path | str) -> dict[str, Any]:
    """Write one YAML file per object under `tmp_path` and run checkov's Kubernetes framework on them.

    Returns `{"failed": [(check_id, "Kind/namespace/name", file), ...], "check_names": {...},
    "passed", "failed_count", "skipped", "resource_count", "parsing_errors", "checkov_version",
    "directory"}`. The counts are checkov's own, and the pod template of a workload counts as a
    resource of its own.
    It raises when checkov is missing, when checkov errors, or when checkov did not scan every object,
    so that a run which checked nothing can never look clean."""
    executable = checkov_executable()
    directory = Path(tempfile.mkdtemp(prefix="checkov-", dir=tmp_path))
    objects_by_file: dict[str, Mapping[str, Any]] = {}
    for index, obj in enumerate(manifests):
        meta = obj.get("metadata") or {}
        name = f"{index:03d}-{_slug(obj.get('kind'))}-{_slug(meta.get('namespace'))}-{_slug(meta.get('name'))}.yaml"
        (directory / name).write_text(yaml.safe_dump(dict(obj), sort_keys=False), encoding="utf-8")
        objects_by_file[name] = obj
    command = [str(executable), "-d", str(directory), "--framework", "kubernetes", "--skip-download", "--quiet", "--compact", "-o", "json"]
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=directory, timeout=900)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {proc.returncode}: {' '.join(command)}\n{proc.stderr[-4000:]}")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"checkov printed no JSON: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}") from None
    report = parse_checkov_output(data, objects_by_file)
    report["directory"] = directory
    if report["checkov_version"] != CHECKOV_VERSION:
        raise RuntimeError(f"{executable} is checkov {report['checkov_version']}, expected {CHECKOV_VERSION}: {CHECKOV_SETUP_HINT}")
    # checkov counts each object once, plus the pod template of each workload, so a count
    # below the number of objects means that it skipped some.
    if report["parsing_errors"] or report["resource_count"] < len(manifests):
        raise RuntimeError(
            f"checkov scanned {report['resource_count']} of {len(manifests)} objects "
            f"({report['parsing_errors']} parsing errors) in {directory}"
        )
    if (proc.returncode == 1) != bool(report["failed"]) or report["failed_count"] < len(report["failed"]):
        raise RuntimeError(f"checkov's exit status {proc.returncode} disagrees with its JSON:\n{proc.stdout[-2000:]}")
    return report


def format_checkov_failures(report: Mapping[str, Any]) -> str:
    """One line per failed check, grouped by object."""
    lines = []
    for check_id, ident, file_name in report["failed"]:
        lines.append(f"  {ident}: {check_id} {report['check_names'].get(check_id, '')} [{file_name}]")
    return "\n".join(lines)


# --------------------------------------------------------------------------- checkov suppressions

SKIP_KEY = re.compile(r"^checkov\.io/skip[1-9][0-9]*$")
SKIP_VALUE = re.compile(r"^(CKV_K8S_[0-9]+)=(.*\S.*)$", re.DOTALL)


def _annotation_maps(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Mapping[str, Any]]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            if key == "metadata" and isinstance(child, Mapping) and isinstance(child.get("annotations"), Mapping):
                yield (*path, "metadata", "annotations"), child["annotations"]
            yield from _annotation_maps(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _annotation_maps(child, (*path, index))


def checkov_suppressions(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(check_id, reason) for each well-formed suppression on the object's own metadata."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    out = []
    for key, value in annotations.items():
        match = SKIP_VALUE.match(value) if SKIP_KEY.match(key) and isinstance(value, str) else None
        if match:
            out.append((match.group(1), match.group(2).strip()))
    return out


def suppression_problems(obj: Mapping[str, Any]) -> list[str]:
    """Why each `checkov.io/*` annotation on the object is not an accepted suppression. The
    accepted form is `checkov.io/skipN: CKV_K8S_<n>=<non-empty reason>` on the object's own
    `metadata.annotations`, which is the only place checkov reads suppressions from."""
    problems = []
    for path, found in _annotation_maps(obj):
        where = _format_path(path)
        for key, value in found.items():
            if not str(key).startswith("checkov.io/"):
                continue
            if path != ("metadata", "annotations"):
                problems.append(f"{where}[{key!r}]: checkov reads suppressions only from the object's own metadata.annotations")
            elif not SKIP_KEY.match(key):
                problems.append(f"{where}[{key!r}]: the key must be checkov.io/skip<N>")
            elif not isinstance(value, str) or not SKIP_VALUE.match(value):
                problems.append(f"{where}[{key!r}] = {value!r}: the value must be CKV_K8S_<n>=<reason>, with a non-empty reason")
    return problems
