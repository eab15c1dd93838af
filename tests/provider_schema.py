"""The input names each provider really takes, derived from the installed Pulumi SDKs.

A type token (`azure-native:containerservice:ManagedCluster`, `aws:eks/cluster:Cluster`,
`gcp:container/cluster:Cluster`, `kubernetes:apps/v1:StatefulSet`) names a resource class
whose `<Class>Args` input type lists the engine-side (camelCase) name of every input through
`@pulumi.getter(name=...)`, and whose annotations name the nested input types. Walking them
gives the tree of names a rule may read; a rule that reads any other name reads nothing.

`KeyRecorder` wraps a resource's inputs and records every key a rule asks for, present or
not, as a path (`("apiServerAccessProfile", "authorizedIPRanges")`, `[]` for list items).
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

ANY = "*"
"""A map with free-form keys (tags, labels, data): every key below it is valid."""

_PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native",
             "kubernetes": "pulumi_kubernetes"}


def _module_and_class(token: str) -> tuple[str, str] | None:
    package, _, rest = token.partition(":")
    if package not in _PACKAGES:
        return None
    module, _, cls = rest.rpartition(":")
    if package == "kubernetes":
        group, _, version = module.rpartition("/")
        group = (group.split(".")[0] if group else "core") if module != "core/v1" else "core"
        path = f"{group}.{version}"
    elif package == "azure-native":
        path = module
    else:
        path = module.split("/")[0]
    return f"{_PACKAGES[package]}.{path}", cls


def _unwrap(annotation: Any, namespace: dict[str, Any]) -> Any:
    """The input type, list marker or map marker inside Optional/Input/Sequence/Mapping."""
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        try:
            annotation = eval(annotation, namespace)  # noqa: S307 - the SDK's own annotation
        except Exception:
            return ANY  # not resolvable here: accept anything below it
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        candidates = [a for a in args if a is not type(None)]
        # pulumi.Input[T] is Union[T, Awaitable[T], Output[T]]: T is the first.
        return _unwrap(candidates[0], namespace)
    if origin is not None and getattr(origin, "__name__", "") in ("Sequence", "list", "List"):
        return ("[]", _unwrap(args[0], namespace) if args else None)
    if origin is not None and getattr(origin, "__name__", "") in ("Mapping", "dict", "Dict"):
        return ANY
    return annotation


def _is_input_type(cls: Any) -> bool:
    return isinstance(cls, type) and hasattr(cls, "_pulumi_input_type") or (
        isinstance(cls, type) and any(isinstance(v, property) and hasattr(v.fget, "_pulumi_name")
                                      for v in vars(cls).values()))


@lru_cache(maxsize=None)
def _fields(cls: type) -> dict[str, Any]:
    """camelCase input name -> nested schema of an input type class."""
    out: dict[str, Any] = {}
    for value in vars(cls).values():
        if not isinstance(value, property) or not hasattr(value.fget, "_pulumi_name"):
            continue
        name = value.fget._pulumi_name
        hint = value.fget.__annotations__.get("return", Any)
        out[name] = _unwrap(hint, value.fget.__globals__)
    return out


def _schema_of(node: Any) -> Any:
    if node is ANY or node is Any:
        return ANY
    if isinstance(node, tuple) and node and node[0] == "[]":
        return ("[]", _schema_of(node[1]))
    if _is_input_type(node):
        return node
    return None  # a scalar: nothing below it


@lru_cache(maxsize=None)
def args_class(token: str) -> type | None:
    """The `<Class>Args` input type of a resource type token, or None where the SDK has none (CustomResource)."""
    where = _module_and_class(token)
    if where is None:
        return None
    module, cls = where
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    resource = getattr(mod, cls, None)
    if resource is None:
        return None
    # The resource's own module: where a nested input type has the same name (s3's
    # BucketServerSideEncryptionConfigurationArgs), codegen calls the resource's `<Class>InitArgs`.
    home = importlib.import_module(resource.__module__)
    return getattr(home, f"{cls}InitArgs", None) or getattr(home, f"{cls}Args", None)


def path_exists(token: str, path: tuple[str, ...]) -> bool | None:
    """Whether the provider of `token` takes an input at `path`; None where its schema is unknown."""
    node: Any = args_class(token)
    if node is None:
        return None
    for key in path:
        node = _schema_of(node)
        if node is ANY:
            return True
        if key == "[]":
            if not (isinstance(node, tuple) and node[0] == "[]"):
                return False
            node = node[1]
            continue
        if isinstance(node, tuple):  # a key read on a list: only a wrong rule does that
            return False
        if not _is_input_type(node):
            return False
        fields = _fields(node)
        if key not in fields:
            return False
        node = fields[key]
    return True


class KeyRecorder(Mapping):
    """A read-only view of inputs that records every key asked for, as a path from the resource."""

    def __init__(self, data: Mapping, path: tuple[str, ...], log: set[tuple[str, ...]]) -> None:
        self._data, self._path, self._log = data, path, log

    def _wrap(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, Mapping):
            return KeyRecorder(value, path, self._log)
        if isinstance(value, list):
            return [self._wrap(v, (*path, "[]")) for v in value]
        return value

    def __getitem__(self, key: str) -> Any:
        self._log.add((*self._path, key))
        return self._wrap(self._data[key], (*self._path, key))

    def get(self, key: str, default: Any = None) -> Any:
        self._log.add((*self._path, key))
        if key in self._data:
            return self._wrap(self._data[key], (*self._path, key))
        return default

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._log.add((*self._path, key))
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def items(self):  # type: ignore[override]
        return [(k, self[k]) for k in self._data]

    def values(self):  # type: ignore[override]
        return [self[k] for k in self._data]
