"""`python -m llm_infra`: serve llm-infra's components to other Pulumi languages.

This is what runs when a TypeScript, Go, C#, Java or YAML program has added this
repository with `pulumi package add` (see `PulumiPlugin.yaml`): Pulumi's language host
runs `python -m pulumi.run.plugin llm-infra`, which finds no component in the lazy
`llm_infra` namespace and runs this module. It hosts every component
(`llm_infra.multilanguage.HOSTED`); the schema is inferred from their Args TypedDicts
and output annotations when the provider starts.
"""

import sys

from llm_infra import __version__
from llm_infra.multilanguage import serve

if __name__ == "__main__":
    serve(sys.argv[1:], __version__)
