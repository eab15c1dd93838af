"""`python -m llm_infra`: serve llm-infra's components to other Pulumi languages, or run the CLI.

This is what runs when a TypeScript, Go, C#, Java or YAML program has added this
repository with `pulumi package add` (see `PulumiPlugin.yaml`): Pulumi's language host
runs `python -m pulumi.run.plugin llm-infra`, which finds no component in the lazy
`llm_infra` namespace and runs this module with the engine's address (`HOST:PORT`)
as its argument. It hosts every component (`llm_infra.multilanguage.HOSTED`); the
schema is inferred from their Args TypedDicts and output annotations when the
provider starts.

Run by a person (`python -m llm_infra plan`, `python -m llm_infra --help`), there is
no engine address among the arguments, and the provider would print a port and wait
for an engine that never comes; so anything without one goes to the `llm-infra` CLI.
"""

import re
import sys

_ENGINE_ADDRESS = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}$")


def started_by_engine(args: list[str]) -> bool:
    """Whether Pulumi started this module as a provider plugin: its one positional argument is the engine's address."""
    return any(_ENGINE_ADDRESS.match(arg) for arg in args if not arg.startswith("-"))


if __name__ == "__main__":
    if started_by_engine(sys.argv[1:]):
        from llm_infra import __version__
        from llm_infra.multilanguage import serve

        serve(sys.argv[1:], __version__)
    else:
        from llm_infra.cli import main

        sys.exit(main(sys.argv[1:]))
