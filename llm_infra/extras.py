"""Which cloud SDK each extra installs, and the error when a cloud's extra is missing.

`pip install llm-infra` is the Kubernetes and Triton layer alone; `[aws]`, `[gcp]` and
`[azure]` add a cloud's Pulumi provider SDK (pyproject.toml). A cloud's components are
imported only when that SDK is there; otherwise whatever asked for them gets one line
naming the extra to install.
"""

from __future__ import annotations

import importlib.util



def cloud_extras() -> dict[str, str]:
    """extra -> the module its provider SDK installs (pyproject.toml [project.optional-dependencies]), from each
    cloud plug-in (`Cloud.extra`, `Cloud.sdk`)."""
    from .clouds import CLOUDS

    return {cloud.extra: cloud.sdk for cloud in CLOUDS.values()}


def installed(extra: str) -> bool:
    """Whether the extra's cloud SDK can be imported."""
    try:
        return importlib.util.find_spec(cloud_extras()[extra]) is not None
    except (ImportError, ValueError):
        return False


def missing_extra(extra: str, what: str) -> str:
    """The one-line error for `what` (a cloud or a component) without its extra."""
    return (f"{what} needs llm-infra's {extra} extra ({cloud_extras()[extra]} is not installed): "
            f"pip install 'llm-infra[{extra}]'")
