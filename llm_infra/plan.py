"""The offline plan: run a stack program under Pulumi's mock engine and write what it would build.

`run_stack` executes `stacks/__main__.py` exactly as `pulumi up` would (same config, same
working directory) but against `llm_infra.testing`'s capturing mock monitor. Secret config
is never read: a secret key gets a placeholder marked secret, so the plan shows where a
secret flows without needing the stack's encryption key.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .clouds import CLOUDS
from .config import SECRET_KEYS
from .policies import MANDATORY, Context, Resource, Rule, Violation, all_rules, evaluate
from .policies.pulumi_options import credential_outputs_are_secret
from .stack_file import declared_config, read_project_file, read_stack_file
from .testing import SECRET_MASK, CapturedResource, ProgramResult, mask_secrets, run_program, unwrap_secrets

SECRET_PLACEHOLDER = "<secret: not read by the offline plan>"


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    main: Path
    stack_config_dir: Path
    declared_secrets: frozenset[str]
    declarations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Pulumi.yaml's config declarations by full key, as the CLI merges them into each stack."""


def find_project(start: Path | None = None) -> Project:
    """The Pulumi project containing `start` (default: $LLM_INFRA_PROJECT or the working directory)."""
    here = Path(start or os.environ.get("LLM_INFRA_PROJECT") or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        spec = candidate / "Pulumi.yaml"
        if spec.is_file():
            data = read_project_file(spec)
            name = data["name"]
            declarations = declared_config(name, data)
            return Project(
                root=candidate,
                name=name,
                main=candidate / str(data.get("main", ".")),
                stack_config_dir=candidate / str(data.get("stackConfigDir", ".")),
                declared_secrets=frozenset(k for k, d in declarations.items() if d.get("secret")),
                declarations=declarations,
            )
    raise FileNotFoundError(f"no Pulumi.yaml in {here} or any parent directory")


def stack_names(project: Project | None = None) -> list[str]:
    """Stacks that have a `Pulumi.<stack>.yaml` in the project's stack config directory."""
    project = project or find_project()
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project.stack_config_dir.glob("Pulumi.*.yaml"))


def stack_config(name: str, project: Project | None = None) -> tuple[dict[str, Any], list[str]]:
    """The stack's config as the CLI would hand it to the program, and which keys are secret.

    The stack file is read as the CLI reads it (`llm_infra.stack_file`): top-level scalars
    are the strings the program receives, structured values lists and mappings. Secret
    values are never read: each gets a placeholder marked secret, and so does the existing
    cluster's kubeconfig, which every user sets on their own machine with `--secret`.
    """
    project = project or find_project()
    path = project.stack_config_dir / f"Pulumi.{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"stack {name!r}: expected {path}, which does not exist; stacks: {stack_names(project)}")
    config, secret = read_stack_file(path, project.name, project.declarations, name)
    secret_keys = set(secret)
    if config.get(f"{project.name}:cloud") == "existing":
        secret_keys |= {f"{project.name}:{key}" for key in SECRET_KEYS}
    for key in secret_keys:
        config[key] = SECRET_PLACEHOLDER
    return config, sorted(secret_keys)


@contextmanager
def _program_context(main: Path):
    old_cwd, old_path = Path.cwd(), list(sys.path)
    os.chdir(main)
    sys.path.insert(0, str(main))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def run_stack_program(config: dict[str, Any], secret_keys: list[str], *, stack: str = "test",
                      project: Project | None = None,
                      on_register: Callable[[str], None] | None = None,
                      checks_itself: bool = False) -> ProgramResult:
    """Run the project's stack program offline with the given config (full keys, as in a stack file).

    `checks_itself` runs the program's own policy check as `pulumi up` does (see llm_infra.enforce);
    otherwise the caller evaluates the rules over the run.
    """
    from contextlib import nullcontext

    from .enforce import offline_plan

    project = project or find_project()
    entry = project.main / "__main__.py" if project.main.is_dir() else project.main
    # The plan evaluates the rules over its own run: the program's own check is not run again.
    with _program_context(entry.parent), (nullcontext() if checks_itself else offline_plan()):
        return run_program(
            lambda: runpy.run_path(str(entry), run_name="__main__"),
            config,
            project=project.name,
            stack=stack,
            secret_keys=secret_keys,
            on_register=on_register,
        )


def run_stack(name: str, project: Project | None = None, on_register: Callable[[str], None] | None = None) -> ProgramResult:
    """Run the stack program offline; raises `ConfigError` on bad config before any registration."""
    project = project or find_project()
    config, secret_keys = stack_config(name, project)
    return run_stack_program(config, secret_keys, stack=name, project=project, on_register=on_register)


# Apply order a person (or a GitOps tool) would expect; everything else follows by kind.
_KIND_ORDER = ("Namespace", "ResourceQuota", "NetworkPolicy", "ServiceAccount", "ConfigMap", "Service")


def stack_accounts(config: dict[str, Any]) -> frozenset[str]:
    """The cloud accounts a stack deploys into, from its config (full keys): each cloud plug-in's `account_field`
    (AWS account, Azure subscription, GCP project)."""
    found = set()
    for section, key in ((cloud.name, cloud.account_field) for cloud in CLOUDS.values()):
        value = (config.get(f"llm-infra:{section}") or {}).get(key) if isinstance(config.get(f"llm-infra:{section}"), dict) else None
        if isinstance(value, str | int) and not isinstance(value, bool):
            found.add(str(value))
    return frozenset(found)


def policy_violations(name: str, result: ProgramResult, project: Project | None = None) -> list[Violation]:
    """Every rule of `llm_infra.policies` over the captured resources and stack outputs."""
    config, _ = stack_config(name, project)
    return evaluate_plan(config, result)


def plan_rules() -> list[Rule]:
    """Every rule the plan checks: `policies.all_rules()` (what the CrossGuard pack, published without the
    library, checks too), and the rules of each registered cloud plug-in (`Cloud.policies`) it does not list."""
    rules = all_rules()
    listed = {id(rule) for rule in rules}
    return [*rules, *(rule for cloud in CLOUDS.values() for rule in cloud.policies.RULES if id(rule) not in listed)]


def evaluate_plan(config: dict[str, Any], result: ProgramResult) -> list[Violation]:
    """Every rule over a run's resources and outputs, in the context its config (full keys) gives."""
    production = config.get("llm-infra:production", True)
    if isinstance(production, str):
        production = production.lower() != "false"
    resources = [Resource(r.type, r.name, r.inputs, r.protect, r.retain_on_delete, r.urn) for r in result.resources]
    context = Context(production=bool(production), accounts=stack_accounts(config))
    violations = evaluate(resources, context, plan_rules())
    for message in credential_outputs_are_secret(result.outputs, result.secret_outputs):
        violations.append(Violation("credential-outputs-secret", "stack", message, MANDATORY))
    return violations


def manifests(result: ProgramResult) -> list[dict[str, Any]]:
    """Every Kubernetes object the program registers, as the API server would receive it, in a stable order."""

    def key(obj: dict[str, Any]) -> tuple:
        kind = obj["kind"]
        rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
        meta = obj.get("metadata", {})
        return rank, kind, meta.get("namespace", ""), meta.get("name", "")

    return sorted((mask_secrets(_secret_keys_shown(r.inputs)) for r in result.kubernetes_objects()), key=key)


def _secret_keys_shown(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret's `data`/`stringData` arrive secret as a whole: mask each value, keep the keys (a valid manifest)."""
    if obj.get("kind") != "Secret":
        return obj
    shown = dict(obj)
    for key in ("data", "stringData"):
        if isinstance(shown.get(key), dict):
            shown[key] = {k: SECRET_MASK for k in unwrap_secrets(shown[key]) or {}}
    return shown


def model_repositories(result: ProgramResult) -> dict[str, dict[str, str]]:
    """Per model, the generated repository files (path -> content) as mounted into Triton."""
    config_maps = {(r.k8s_namespace, r.k8s_name): r.inputs for r in result.kubernetes_objects("ConfigMap")}
    repos: dict[str, dict[str, str]] = {}
    for sts in result.kubernetes_objects("StatefulSet"):
        spec = sts.inputs["spec"]["template"]["spec"]
        mounts = {m["name"]: m["mountPath"] for c in spec.get("containers", []) for m in c.get("volumeMounts", [])}
        for volume in spec.get("volumes", []):
            # model-repository: the model itself; model-repository-<i>: models served beside it.
            if not volume.get("name", "").startswith("model-repository") or volume["name"] not in mounts:
                continue
            cm = config_maps[(sts.k8s_namespace, volume["configMap"]["name"])]
            directory = mounts[volume["name"]].rstrip("/").rsplit("/", 1)[-1]
            repos[directory] = {item["path"]: cm["data"][item["key"]] for item in volume["configMap"]["items"]}
    return repos


_MANIFEST_HEAD = ("apiVersion", "kind", "metadata")


def _canonical_manifest(obj: dict[str, Any]) -> dict[str, Any]:
    """One key order whatever order Pulumi resolved the inputs in: apiVersion, kind, metadata, then the
    rest; nested mappings sorted. Two plans of one stack then write byte-identical manifests to diff."""

    def sort(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: sort(value[k]) for k in sorted(value)}
        if isinstance(value, list):
            return [sort(v) for v in value]
        return value

    head = [k for k in _MANIFEST_HEAD if k in obj]
    return {k: sort(obj[k]) for k in head + sorted(k for k in obj if k not in head)}


def write_plan(result: ProgramResult, out: Path) -> None:
    """Write resources.json, outputs.json, manifests/ and model_repository/ under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    ordered = sorted(result.resources, key=lambda r: r.urn)
    (out / "resources.json").write_text(json.dumps([r.to_json() for r in ordered], indent=2) + "\n")
    (out / "outputs.json").write_text(json.dumps(result.masked_outputs(), indent=2, sort_keys=True) + "\n")
    mdir = out / "manifests"
    mdir.mkdir(exist_ok=True)
    for old in mdir.glob("*.yaml"):
        old.unlink()
    for i, obj in enumerate(manifests(result)):
        meta = obj.get("metadata", {})
        fname = f"{i:03d}-{obj['kind'].lower()}-{meta.get('namespace', 'cluster')}-{meta.get('name')}.yaml"
        (mdir / fname).write_text(yaml.safe_dump(_canonical_manifest(obj), sort_keys=False))
    rdir = out / "model_repository"
    for model, files in model_repositories(result).items():
        for path, content in files.items():
            target = rdir / model / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)


def _tree(result: ProgramResult) -> list[str]:
    components = [r for r in result.resources if not r.custom]
    lines: list[str] = []

    def walk(parent: CapturedResource, depth: int) -> None:
        kids = result.children_of(parent)
        counts = Counter(k.type for k in kids if k.custom)
        leaf = ", ".join(f"{n} {t.split(':')[-1]}" for t, n in sorted(counts.items()))
        lines.append(f"{'  ' * depth}{parent.type.split(':')[-1]} {parent.name}" + (f"  [{leaf}]" if leaf else ""))
        for k in kids:
            if not k.custom:
                walk(k, depth + 1)

    roots = [c for c in components if result.by_urn(c.parent or "") is None]
    for root in roots:
        walk(root, 1)
    return lines


def policy_report(violations: list[Violation]) -> list[str]:
    rules = plan_rules()
    lines = [f"policies: {len(rules) + 1} rules, "
             f"{sum(v.enforcement == MANDATORY for v in violations)} mandatory and "
             f"{sum(v.enforcement != MANDATORY for v in violations)} advisory violations"]
    for v in violations:
        lines.append(f"  {v.enforcement.upper()} {v.rule}: {v.resource}: {v.message}")
    return lines


def parsed_config(name: str, project: Project | None = None):
    """The stack's validated StackConfig (secrets left out: they are never read offline)."""
    from .config import CONFIG_NAMESPACE, parse_stack_config

    config, secret_keys = stack_config(name, project)
    prefix = f"{CONFIG_NAMESPACE}:"
    return parse_stack_config({k[len(prefix):]: v for k, v in config.items()
                               if k.startswith(prefix) and k not in secret_keys})


def summary(name: str, result: ProgramResult, violations: list[Violation] | None = None,
            planning: str | None = None) -> str:
    """A human summary: resource tree, per-model endpoints, what is encrypted with what, cost, policy results."""
    lines = [f"stack {name}: {len(result.resources)} resources, {len(result.kubernetes_objects())} Kubernetes objects", ""]
    lines.append("resource tree:")
    lines += _tree(result)
    lines += ["", "models:"]
    endpoints = result.outputs.get("model_endpoints") or {}
    for sts in result.kubernetes_objects("StatefulSet"):
        spec = sts.inputs["spec"]
        pod = spec["template"]["spec"]
        triton = next(c for c in pod["containers"] if c["name"] == "triton")
        gpus = triton["resources"]["limits"].get("nvidia.com/gpu")
        claim = spec["volumeClaimTemplates"][0]["spec"]
        ep = endpoints.get(sts.k8s_name, {})
        lines.append(
            f"  {sts.k8s_namespace}/{sts.k8s_name}: {ep.get('http', '?')}  grpc {ep.get('grpc', '?')}  "
            f"{gpus} GPU/replica on pool {next(iter(pod['nodeSelector'].values()))}"
        )
        if ep.get("openai"):
            lines.append(f"    openai: {ep['openai']}")
        lines.append(
            f"    cache: {claim['resources']['requests']['storage']} per replica on StorageClass "
            f"{claim['storageClassName']}; identity: service account {pod['serviceAccountName']}"
        )
        waits = sts.custom_timeouts
        lines.append(f"    pulumi up waits for readiness up to: create {waits.get('create', '10m (provider default)')}, "
                     f"update {waits.get('update', '10m (provider default)')}")
    lines += ["", "encryption and secrets:"]
    for r in result.resources:
        for path in r.secret_paths:
            lines.append(f"  secret: {r.type.split(':')[-1]} {r.name} input {path}")
    for key in sorted(result.secret_outputs):
        lines.append(f"  secret: stack output {key} ({SECRET_MASK} in outputs.json)")
    storage = sorted({sts.inputs["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"]
                      for sts in result.kubernetes_objects("StatefulSet")})
    for sc in storage:
        lines.append(f"  model caches: StorageClass {sc} (volumes encrypted with the cluster's customer key)")
    from . import plan_sections

    for section in (plan_sections.access(result), plan_sections.operators(result), plan_sections.inference_routes(result),
                    plan_sections.teardown(result)):
        if section:
            lines += ["", *section]
    if planning:
        lines += ["", planning]
    if violations is not None:
        lines += ["", *policy_report(violations)]
    return "\n".join(lines)
