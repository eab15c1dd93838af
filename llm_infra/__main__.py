"""`python -m llm_infra`: serve llm-infra's components to other Pulumi languages.

This is what runs when a TypeScript, Go, C#, Java or YAML program has added this
repository with `pulumi package add` (see `PulumiPlugin.yaml`): Pulumi's language host
runs `python -m pulumi.run.plugin llm-infra`, which finds no component in the lazy
`llm_infra` namespace and runs this module. It hosts the components that Pulumi's schema
inference can describe (`llm_infra.multilanguage.HOSTED`); the schema is inferred from
their Args TypedDicts and output annotations when the provider starts.
"""

from pulumi.provider.experimental import component_provider_host

from llm_infra import __version__
from llm_infra.multilanguage import PACKAGE_NAME, hosted_components

if __name__ == "__main__":
    component_provider_host(components=hosted_components(), name=PACKAGE_NAME, version=__version__)
