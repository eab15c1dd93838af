"""Which cloud SDK each extra installs, and the error when a cloud's extra is missing.

`pip install llm-infra` is the Kubernetes and Triton layer alone; `[aws]`, `[gcp]` and
`[azure]` add a cloud's Pulumi provider SDK (pyproject.toml). A cloud's components are
imported only when that SDK is there; otherwise whatever asked for them gets one line
naming the extra to install.
"""

from __future__ import annotations

import importlib.util

# extra -> the module its provider SDK installs (pyproject.toml [project.optional-dependencies]).
CLOUD_EXTRAS: dict[str, str] = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure": "pulumi_azure_native"}


def installed(extra: str) -> bool:
    """Whether the extra's cloud SDK can be imported."""
    try:
        return importlib.util.find_spec(CLOUD_EXTRAS[extra]) is not None
    except (ImportError, ValueError):
        return False


def missing_extra(extra: str, what: str) -> str:
    """The one-line error for `what` (a cloud or a component) without its extra."""
    return (f"{what} needs llm-infra's {extra} extra ({CLOUD_EXTRAS[extra]} is not installed): "
            f"pip install 'llm-infra[{extra}]'")
