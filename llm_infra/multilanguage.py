"""Which components other Pulumi languages can use, and why the others cannot yet.

`PulumiPlugin.yaml` makes this repository a source-based Pulumi plugin package:
`pulumi package add` runs `python -m llm_infra`, which serves the components in `HOSTED`
through Pulumi's component provider host. Their schema (inputs, outputs, descriptions) is
inferred from the Args TypedDicts and output annotations by
`pulumi.provider.experimental.analyzer.Analyzer`.

A component is hosted only if that inference accepts it whole; a component the analyzer
rejects would make the provider fail for every component, so it is listed in
`NOT_INFERABLE` with the reason, and stays a Python-only API. `tests/test_multilanguage.py`
runs the analyzer over both lists, so neither can claim what is not so. The README's
component table shows the same (generated from this file by scripts/component_table.py).
"""

import pulumi

PACKAGE_NAME = "llm-infra"

# Components whose Args and outputs Pulumi's schema inference describes completely.
HOSTED = ("NvidiaDevicePlugin", "DcgmExporter", "TenantNamespace")

_FUTURE = "`from __future__ import annotations` in its module (the analyzer gets strings, not types)"

# Every other component, with what the analyzer rejects. Plain strings: scripts/component_table.py reads this with ast.
NOT_INFERABLE = {
    "LlmPlatform": _FUTURE + "; `config` is a pydantic `StackConfig`; `cluster` is a `ClusterContract` dataclass "
    "(a provider object and a Python callable that binds model identities); the outputs `model_endpoints`, "
    "`namespaces`, `model_plans` and `estimated_monthly_cost_usd` are bare `dict`/`list`",
    "ExistingCluster": _FUTURE + "; besides, what it hands on is the Python-only `contract` attribute "
    "(a `ClusterContract`), which no other language could receive",
    "TritonLlmWorkload": _FUTURE + "; `model` is a pydantic `ModelConfig`, `monitoring` a pydantic "
    "`MonitoringConfig`, `cluster` a `ClusterContract` dataclass with a Python callable",
    "GpuSoftwareLayer": "`contract` is a `ClusterContract` dataclass with a Python callable; `device_plugin` is a "
    "pydantic `DevicePluginConfig`",
    "EksCluster": _FUTURE,
    "AwsClusterAutoscaler": _FUTURE,
    "AwsGpuNodePool": _FUTURE,
    "AwsKey": _FUTURE,
    "AwsModelStore": _FUTURE + "; `aws_provider` is the abstract `pulumi.ProviderResource`, which names no package",
    "AwsNetwork": _FUTURE + "; the outputs `private_subnet_ids` and `zones` are bare `list`",
    "AwsPlatformCluster": _FUTURE + "; `config` is a pydantic `StackConfig`",
    "GkeCluster": _FUTURE + "; `master_authorized_networks` is a list of `tuple[str, str]`",
    "GkeGpuNodePool": _FUTURE + "; the output `node_groups` is a bare `list`",
    "GcpKey": _FUTURE + "; the output `members` is a bare `list`",
    "GcsModelStore": _FUTURE,
    "GcpNetwork": _FUTURE,
    "GkeNodeServiceAccount": _FUTURE,
    "GcpPlatformCluster": _FUTURE + "; `config` is a pydantic `StackConfig`",
    "AksCluster": _FUTURE,
    "AzureDiskEncryptionSet": _FUTURE,
    "AksGpuNodePool": _FUTURE,
    "AzureKey": _FUTURE,
    "AzureModelStore": _FUTURE + "; `azure_provider` is the abstract `pulumi.ProviderResource`, which names no package",
    "AzureNetwork": _FUTURE,
    "AzurePlatformCluster": _FUTURE + "; `config` is a pydantic `StackConfig`",
}


def hosted_components() -> list[type[pulumi.ComponentResource]]:
    """The component classes the package serves (imports only the Kubernetes layer)."""
    import llm_infra

    return [getattr(llm_infra, name) for name in HOSTED]
