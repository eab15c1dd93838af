"""The components other Pulumi languages use: every public one.

`PulumiPlugin.yaml` makes this repository a source-based Pulumi plugin package:
`pulumi package add` runs `python -m llm_infra`, which serves the components in `HOSTED`
through Pulumi's component provider host. Their schema (inputs, outputs, types,
descriptions) is inferred from the Args TypedDicts and output annotations by
`pulumi.provider.experimental.analyzer.Analyzer`; `tests/test_multilanguage.py` runs that
inference in-process and checks that every public component is present, every input,
output and type property is described, and nothing is rejected.

What makes that possible, for the components that take config or a cluster:

- Config inputs (`model`, `monitoring`, `device_plugin`, a platform's `config`) are the
  config models as schema types (`llm_infra.config.schema_type`): the same fields, the
  same descriptions, validated by the same pydantic models, with errors that name the
  input's field path. Python programs may still pass the validated model.
- `TritonLlmWorkload` takes its cluster as plain inputs (`WorkloadCluster`) and the
  model's identity as service-account annotations. The Python-only identity binder of a
  `ClusterContract` is a keyword argument beside `args` (`bind_identity=`), as is
  `LlmPlatform`'s `contract=`: no schema can carry a Python callable.
"""

import importlib
from typing import Any

import pulumi

from .clouds import CLOUDS
from .extras import cloud_extras, installed, missing_extra

PACKAGE_NAME = "llm-infra"

# Every public component of the base install (the Kubernetes layer and the platform), by the module that defines it.
BASE_HOSTED: dict[str, str] = {
    "LlmPlatform": "llm_infra.platform",
    "ExistingCluster": "llm_infra.existing",
    "TritonLlmWorkload": "llm_infra.triton.workload",
    "NvidiaDevicePlugin": "llm_infra.kubernetes.device_plugin",
    "DcgmExporter": "llm_infra.kubernetes.dcgm_exporter",
    "TenantNamespace": "llm_infra.kubernetes.tenant_namespace",
    "GpuSoftwareLayer": "llm_infra.kubernetes.gpu_layer",
}

HOSTED: dict[str, str] = {**BASE_HOSTED, **{name: module for cloud in CLOUDS.values()
                                            for name, module in cloud.components.items()}}
"""Every public component, by the module that defines it: the base install's, then each cloud plug-in's
(`Cloud.components`: the components its package names)."""


def extra_of(name: str) -> str | None:
    """The extra a hosted component's cloud SDK comes from (`llm_infra.aws.*` -> `aws`); None for the base install."""
    folder = HOSTED[name].split(".")[1]
    return folder if folder in cloud_extras() else None


def hosted_components() -> list[type[pulumi.ComponentResource]]:
    """The component classes the package serves: the base ones, and each cloud's whose extra is installed.

    A cloud's modules (and its SDK) are imported only when its extra is installed, so the
    plugin starts from `pip install llm-infra` alone.
    """
    return [getattr(importlib.import_module(module), name) for name, module in HOSTED.items()
            if (extra := extra_of(name)) is None or installed(extra)]


def _whole(value: Any, prop: Any, path: str) -> Any:
    """`value` with the numbers of integer properties as ints (every number crosses the wire as a float)."""
    from pulumi.errors import InputPropertyError
    from pulumi.provider.experimental.analyzer import PropertyType

    if prop.type == PropertyType.INTEGER and isinstance(value, float):
        if not value.is_integer():
            raise InputPropertyError(path, f"{path}: expected a whole number, got {value!r}")
        return int(value)
    if prop.items is not None and isinstance(value, list):
        return [_whole(v, prop.items, f"{path}[{i}]") for i, v in enumerate(value)]
    if prop.additional_properties is not None and isinstance(value, dict):
        return {k: _whole(v, prop.additional_properties, f"{path}.{k}") for k, v in value.items()}
    return value


def provider(version: str = "0.0.0") -> Any:
    """Pulumi's component provider over `hosted_components()`, with integer inputs delivered as ints.

    `ComponentProvider.map_input_properties` (pulumi 3.272) converts an integer input with
    `int()` and then overwrites the result with the raw float, so `gpuQuota: 4` reaches the
    component as 4.0. This subclass re-applies the conversion, refusing fractions, at every
    level its parent maps (nested types included).
    """
    from pulumi.provider.experimental.component import ComponentProvider

    class Provider(ComponentProvider):
        def construct(self, name, resource_type, inputs, options=None):
            component = resource_type.rsplit(":", 1)[-1]
            extra = extra_of(component) if component in HOSTED else None
            if extra is not None and not installed(extra):
                raise ValueError(missing_extra(extra, resource_type))
            return super().construct(name, resource_type, inputs, options)

        def map_input_properties(self, inputs, properties, mapping, component_name, property_path):
            mapped = dict(super().map_input_properties(inputs, properties, mapping, component_name, property_path))
            for schema_name, prop in properties.items():
                name = mapping[schema_name]
                if name in mapped and not prop.ref:
                    path = f"{property_path}.{schema_name}" if property_path else schema_name
                    mapped[name] = _whole(mapped[name], prop, path)
            return mapped

    return Provider(hosted_components(), PACKAGE_NAME, None, version)


def serve(args: list[str], version: str) -> None:
    """Run the provider as Pulumi's language host starts a plugin (what `component_provider_host` does)."""
    from pulumi.provider import main

    main(provider(version), args)
