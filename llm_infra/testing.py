"""Run a Pulumi program offline under Pulumi's own mock runtime and capture what it registers.

This is the harness behind `llm-infra plan` and the test suite, and it is public so that
users can test their own programs that use llm-infra components:

    from llm_infra.testing import run_program
    result = run_program(my_program, config={"llm-infra:cloud": "existing", ...})
    assert result.of_type("kubernetes:apps/v1:StatefulSet")

A program that reads another stack's outputs through `pulumi.StackReference` gets them
from `run_program(..., stack_references={"org/project/stack": {"kubeconfig":
StackOutputSecret("..."), "storage_class": "gp3"}})`, the way the engine hands a
referenced stack's outputs over (secret outputs stay secret).

Nothing is faked beyond what `pulumi.runtime.set_mocks` itself does: resources get an id
and their inputs back as outputs, and the engine sees every registration with its parent,
provider and options.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import rpc as _rpc
from pulumi.runtime import settings as _settings
from pulumi.runtime import stack as _stack

from .clouds import by_provider

SECRET_MASK = "[secret]"


@dataclass
class CapturedResource:
    """One registration as the engine received it."""

    type: str
    name: str
    urn: str
    parent: str | None
    provider: str | None
    inputs: dict[str, Any]
    custom: bool
    protect: bool = False
    retain_on_delete: bool = False
    secret_paths: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """What the mock engine returned: the inputs plus the computed attributes (`arn`, ...)."""
    dependencies: list[str] = field(default_factory=list)
    """URNs the resource waits for (explicit `depends_on` and inputs from other resources)."""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """The `customTimeouts` resource option (`create`, `update`, `delete` as engine durations), where set."""

    @property
    def is_kubernetes_object(self) -> bool:
        return self.type.startswith("kubernetes:") and "apiVersion" in self.inputs and "kind" in self.inputs

    @property
    def kind(self) -> str | None:
        return self.inputs.get("kind")

    @property
    def k8s_name(self) -> str | None:
        return (self.inputs.get("metadata") or {}).get("name")

    @property
    def k8s_namespace(self) -> str | None:
        return (self.inputs.get("metadata") or {}).get("namespace")

    def to_json(self) -> dict[str, Any]:
        """The documented `resources.json` shape, with secret values masked."""
        return {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "protect": self.protect,
            "retain_on_delete": self.retain_on_delete,
            **({"custom_timeouts": self.custom_timeouts} if self.custom_timeouts else {}),
            "dependencies": sorted(self.dependencies),
            "inputs": mask_secrets(self.inputs),
        }


@dataclass
class ProgramResult:
    """Everything a program registered, and its stack outputs."""

    resources: list[CapturedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def of_type(self, type_: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> CapturedResource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected exactly one {type_} named {name!r}, found {[r.name for r in found]}")
        return found[0]

    def by_urn(self, urn: str) -> CapturedResource | None:
        return next((r for r in self.resources if r.urn == urn), None)

    def kubernetes_objects(self, kind: str | None = None) -> list[CapturedResource]:
        return [r for r in self.resources if r.is_kubernetes_object and (kind is None or r.kind == kind)]

    def k8s(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The manifest of one Kubernetes object, by kind, metadata.name and (optionally) namespace."""
        found = [
            r.inputs for r in self.kubernetes_objects(kind)
            if r.k8s_name == name and (namespace is None or r.k8s_namespace == namespace)
        ]
        if len(found) != 1:
            raise LookupError(f"expected exactly one {kind} {namespace or ''}/{name}, found {len(found)}")
        return found[0]

    def children_of(self, parent: CapturedResource) -> list[CapturedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def ancestors(self, resource: CapturedResource) -> Iterator[CapturedResource]:
        cur = self.by_urn(resource.parent) if resource.parent else None
        while cur is not None:
            yield cur
            cur = self.by_urn(cur.parent) if cur.parent else None

    def masked_outputs(self) -> dict[str, Any]:
        return {k: (SECRET_MASK if k in self.secret_outputs else mask_secrets(v)) for k, v in self.outputs.items()}


def mask_secrets(value: Any) -> Any:
    """Replace every Pulumi secret (as the engine sees it on the wire) with `[secret]`."""
    if isinstance(value, Mapping):
        if value.get(_rpc._special_sig_key) == _rpc._special_secret_sig:
            return SECRET_MASK
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v) for v in value]
    return value


def _secret_paths(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, Mapping):
        if value.get(_rpc._special_sig_key) == _rpc._special_secret_sig:
            return [prefix or "."]
        return [p for k, v in value.items() for p in _secret_paths(v, f"{prefix}.{k}" if prefix else k)]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _secret_paths(v, f"{prefix}[{i}]")]
    return []


def _integral(value: Any) -> Any:
    """The wire carries every number as a double; give integral ones back as int (10001, not 10001.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def unwrap_secrets(value: Any) -> Any:
    """The plain values under secret envelopes (what the provider would receive)."""
    if isinstance(value, Mapping):
        if value.get(_rpc._special_sig_key) == _rpc._special_secret_sig:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def _config(key: str) -> Any:
    from pulumi.runtime.config import get_config

    value = get_config(key)
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


def _dynamic_computed(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    # llm_infra.kubernetes.generated_password draws its value on create, which never happens offline.
    if "length" in args.inputs and "result" in args.inputs:
        return {"result": "<generated on create>"}
    return {}


# What the cloud computes on create (ARNs, issuers), derived deterministically from
# names and the stack's region and account, so that the plan and the tests can follow a
# reference ("this key encrypts that volume"). Anything else comes back as its inputs.
# Each cloud's are its own (`mock_outputs` of its plug-in, looked up in the cloud registry per resource).
def _computed(package: str) -> Callable[[pulumi.runtime.MockResourceArgs], dict[str, Any]] | None:
    if package == "pulumi-python":
        return _dynamic_computed
    cloud = by_provider(package)
    if cloud is None:
        return None
    mock_outputs = cloud.mock_outputs
    return lambda args: mock_outputs.resource_outputs(args.typ, args.name, args.inputs, _config)


@dataclass(frozen=True)
class StackOutputSecret:
    """A referenced stack's output that that stack exported as a secret (e.g. its kubeconfig)."""

    value: Any


STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


class _Mocks(pulumi.runtime.Mocks):
    """Resources come back with their inputs (plus what the cloud computes) and a stable id."""

    def __init__(self, stack_references: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        self._stack_references = {k: dict(v) for k, v in (stack_references or {}).items()}

    def _stack_reference(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        # The engine reads a StackReference (it never creates one): its state is the
        # referenced stack's outputs and the names of those that are secrets.
        stack = args.inputs.get("name") or args.name
        if stack not in self._stack_references:
            raise LookupError(
                f"stack reference {stack!r}: expected its outputs in run_program(stack_references=...), "
                f"got outputs for {sorted(self._stack_references)}"
            )
        given = self._stack_references[stack]
        outputs = {k: v.value if isinstance(v, StackOutputSecret) else v for k, v in given.items()}
        secrets = sorted(k for k, v in given.items() if isinstance(v, StackOutputSecret))
        return stack, {"name": stack, "outputs": outputs, "secretOutputNames": secrets}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == STACK_REFERENCE_TYPE:
            return self._stack_reference(args)
        computed = _computed(args.typ.split(":", 1)[0])
        outputs = dict(args.inputs)
        if computed is not None:
            outputs |= computed(args)
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:  # type: ignore[override]  # Mocks.call may return the outputs alone (pulumi/runtime/mocks.py handles both)
        cloud = by_provider(args.token.split(":", 1)[0])
        return cloud.mock_outputs.call_outputs(args.token, args.args, _config) if cloud is not None else {}


class _CapturingMonitor(_mocks.MockMonitor):
    """The SDK's mock monitor, additionally recording parent, provider and resource options."""

    def __init__(self, mocks: pulumi.runtime.Mocks, on_register: Callable[[str], None] | None) -> None:
        super().__init__(mocks)
        self.captured: list[CapturedResource] = []
        self._on_register = on_register

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        # The SDK's deserializer keeps secrets as the engine's envelope; mask them on output.
        secret_inputs = _integral(_rpc.deserialize_properties(request.object))
        self.captured.append(
            CapturedResource(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent or None,
                provider=request.provider or None,
                inputs=secret_inputs,
                custom=bool(request.custom),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False,
                secret_paths=_secret_paths(secret_inputs),
                outputs=_integral(dict(self.resources[response.urn].state)) if response.urn in self.resources else {},
                dependencies=list(request.dependencies),
                custom_timeouts={k: v for k in ("create", "update", "delete")
                                 if (v := getattr(request.customTimeouts, k))} if request.HasField("customTimeouts") else {},
            )
        )
        if self._on_register is not None:
            self._on_register(f"{request.type} {request.name}")
        return response


def run_program(
    program: Callable[[], Any],
    config: Mapping[str, Any] | None = None,
    *,
    project: str = "llm-infra",
    stack: str = "test",
    secret_keys: list[str] | None = None,
    on_register: Callable[[str], None] | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
) -> ProgramResult:
    """Run `program` as a Pulumi program under the mock engine and return what it registered.

    `config` maps full keys (`llm-infra:cloud`) to values; non-string values are passed
    as JSON, the way the Pulumi CLI hands structured config to a program.

    `stack_references` maps a referenced stack's name (`org/project/stack`, as passed to
    `pulumi.StackReference`) to its outputs; wrap an output in `StackOutputSecret` where
    that stack exported it as a secret. A reference to a stack not listed here fails
    the run (the mock engine would otherwise hand back no outputs at all).
    """
    # The engine's object graph only grows during a run; generational GC would rescan it
    # again and again (synthesis time per resource grew with the stack's size).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = _Mocks(stack_references)
    monitor = _CapturingMonitor(mocks, on_register)
    try:
        _settings.reset_options()
        _settings.set_root_resource(None)  # type: ignore[arg-type]  # pulumi resets the root with None
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
        pulumi.runtime.set_all_config(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()},
            list(secret_keys or []),
        )
        root = _settings.get_root_resource()
        error: BaseException | None = None
        try:
            program()
        except BaseException as exc:  # noqa: BLE001 re-raised after the engine quiesces
            error = exc
        if root is not None:
            root._finish()  # type: ignore[attr-defined]  # the Stack resource pulumi.runtime.run_in_stack ends the same way
        loop.run_until_complete(_stack.wait_for_rpcs())
        if error is not None:
            raise error
        outputs: dict[str, Any] = {}
        secret_outputs: set[str] = set()
        for key, value in (getattr(root, "outputs", None) or {}).items():
            if isinstance(value, pulumi.Output):
                if loop.run_until_complete(value.is_secret()):
                    secret_outputs.add(key)
                value = loop.run_until_complete(value.future(with_unknowns=True))
            outputs[key] = _plain(loop, value)
        return ProgramResult(resources=monitor.captured, outputs=outputs, secret_outputs=secret_outputs)
    finally:
        _settings.set_root_resource(None)  # type: ignore[arg-type]  # pulumi resets the root with None
        pulumi.runtime.set_all_config({}, [])
        asyncio.set_event_loop(None)
        loop.close()
        if gc_was_enabled:
            gc.enable()


def _plain(loop: asyncio.AbstractEventLoop, value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return _plain(loop, loop.run_until_complete(value.future(with_unknowns=True)))
    if isinstance(value, Mapping):
        return {k: _plain(loop, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(loop, v) for v in value]
    return value
