"""The clouds llm-infra builds on: one registry, one entry per cloud plug-in.

Each entry names the cloud's parts, all of which live with that cloud:

- `settings`: its config model and checks (`llm_infra/config/<cloud>.py`);
- `catalog`, `facts`: its machine types with their GPUs and its sourced facts
  (`llm_infra/catalog/<cloud>.py`, `<cloud>_facts.py`); prices in `llm_infra.planning.catalog`;
- `package`: its components (`llm_infra/<cloud>/`), of which `platform_cluster` names the one
  that builds the whole cloud side of a stack from config and hands out the `ClusterContract`;
- `mock_outputs`: what the cloud computes on create and answers to provider functions, for
  the offline plan (`llm_infra/<cloud>/mock_outputs.py`, pure Python);
- `policies`: its rules over planned resources (`llm_infra/policies/<cloud>.py`);
- `extra`: the pip extra that installs its Pulumi provider SDK, and `provider`, the first
  segment of its resources' type tokens.

`platform.py`, `testing.py` and the plan look a cloud up here; nothing else branches on a
cloud's name. A cloud's components load on first use (its package's `__getattr__`), so
importing this registry never imports a cloud SDK. docs/architecture.md has the checklist
for adding a cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import aws, azure, gcp
from .aws import mock_outputs as aws_mock_outputs
from .azure import mock_outputs as azure_mock_outputs
from .catalog import aws as aws_catalog
from .catalog import aws_facts, azure_facts, gcp_facts
from .catalog import azure as azure_catalog
from .catalog import gcp as gcp_catalog
from .config import AwsConfig, AzureConfig, GcpConfig
from .gcp import mock_outputs as gcp_mock_outputs
from .policies import aws as aws_policies
from .policies import azure as azure_policies
from .policies import gcp as gcp_policies


@dataclass(frozen=True)
class Cloud:
    """One cloud plug-in (see the module docstring for what each part is)."""

    name: str
    settings: type
    catalog: ModuleType
    facts: ModuleType
    package: ModuleType
    platform_cluster: str
    mock_outputs: ModuleType
    policies: ModuleType
    extra: str
    provider: str

    def platform_cluster_class(self) -> Any:
        """The platform cluster component (loads the cloud's SDK)."""
        return getattr(self.package, self.platform_cluster)


CLOUDS: dict[str, Cloud] = {
    cloud.name: cloud
    for cloud in (
        Cloud("aws", AwsConfig, aws_catalog, aws_facts, aws, "AwsPlatformCluster", aws_mock_outputs, aws_policies,
              extra="aws", provider="aws"),
        Cloud("gcp", GcpConfig, gcp_catalog, gcp_facts, gcp, "GcpPlatformCluster", gcp_mock_outputs, gcp_policies,
              extra="gcp", provider="gcp"),
        Cloud("azure", AzureConfig, azure_catalog, azure_facts, azure, "AzurePlatformCluster", azure_mock_outputs,
              azure_policies, extra="azure", provider="azure-native"),
    )
}
"""Every cloud llm-infra builds a cluster on, by the name stack config's `cloud` uses."""

BY_PROVIDER: dict[str, Cloud] = {cloud.provider: cloud for cloud in CLOUDS.values()}
"""The cloud whose provider registers resources of a type token's first segment."""
