"""The config models as schema types, for components served to other languages, and the
validation of a component's config input given as a plain mapping."""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired, TypedDict, TypeVar

from pydantic import BaseModel, ValidationError

from .base import ConfigError, shown
from .loading import _problems
from .models import StackConfig


M = TypeVar("M", bound=BaseModel)


def _schema_annotation(annotation: Any) -> Any:
    """The type Pulumi's schema inference can read for a config field's annotation.

    Constraints (`Annotated`) and choices (`Literal`) stay with pydantic, which validates
    every value; the schema carries the plain type, and the field docstring names the choices.
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _schema_annotation(args[0])
    if origin is Literal:
        (kind,) = {type(a) for a in args}
        return kind
    if origin in (types.UnionType, typing.Union):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _schema_annotation(rest[0]) | None
        return Any  # engine_args values: str, int, float or bool
    if origin is list:
        return list[_schema_annotation(args[0])]
    if origin is dict:
        return dict[str, _schema_annotation(args[1])]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return schema_type(annotation)
    return annotation


@functools.cache
def schema_type(model: type[BaseModel]) -> type:
    """`model`'s fields as a TypedDict, the input type other Pulumi languages see.

    It carries the model's name, module and qualified name, so the schema inference reads
    each property's description from the docstring under the model's own field: the config
    models stay the single definition of every field, its default and its documentation.
    A field with a default is `NotRequired`.
    """
    fields = {
        name: _schema_annotation(info.annotation) if info.is_required()
        else NotRequired[_schema_annotation(info.annotation)]
        for name, info in model.model_fields.items()
    }
    spec = TypedDict(model.__name__, fields)  # type: ignore[operator]
    spec.__module__, spec.__qualname__, spec.__doc__ = model.__module__, model.__qualname__, model.__doc__
    return spec


def _known_plain(value: Any, path: str) -> Any:
    """`value` with integral floats as ints (every number reaches a provider as a float), refusing Outputs."""
    from pulumi.output import Output, Unknown

    if isinstance(value, Output | Unknown):  # Unknown: a value only the deployment will compute
        raise ConfigError(f"{path}: expected a plain value known before deployment (it decides which resources "
                          "exist), got an Output of another resource")
    if isinstance(value, Mapping):
        return {k: _known_plain(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_known_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def validate_spec(model: type[M], value: Any, *, field: str) -> M:
    """A component's config input, given as the validated model (Python) or as a plain
    mapping (a YAML, TypeScript, Go or C# program), validated by the same model.

    Raises ConfigError whose lines name `field` and the path below it.
    """
    if isinstance(value, model):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"{field}: expected a mapping of {model.__name__} fields, got {type(value).__name__}")
    from ..guardrails import text_problems

    plain = _known_plain(value, field)
    problems = text_problems(plain, field)
    if problems:
        raise ConfigError(problems)
    try:
        return model.model_validate(plain)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, prefix=f"{field}.")) from None


StackConfigSpec = schema_type(StackConfig)


def cloud_stack_config(value: Any, cloud: str) -> StackConfig:
    """The `config` input of a cloud's platform cluster: a whole stack config for that cloud."""
    config = validate_spec(StackConfig, value, field="config")
    if config.cloud != cloud:
        raise ConfigError(f"config.cloud: expected {cloud!r} for this cloud's platform cluster, got {shown(config.cloud)}")
    return config
