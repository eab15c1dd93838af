"""Custom resources wait for what their component waits for.

Pulumi does not pass a component's `depends_on` on to the resources inside it: a
ScaledObject created under a workload that `depends_on` the KEDA release would still be
sent to the API server at once, before its CRD exists. Components that create custom
resources therefore give those resources their own `depends_on` on everything the
component itself was told to wait for.
"""

from __future__ import annotations

import pulumi


def waits_like_component(child: pulumi.ResourceOptions, component: pulumi.ResourceOptions | None,
                         *extra: pulumi.Resource) -> pulumi.ResourceOptions:
    """`child` options that also depend on the component's own `depends_on` (and `extra`)."""
    inherited = component.depends_on if component is not None else None
    if inherited is None:
        deps: list = []
    elif isinstance(inherited, (list, tuple)):
        deps = list(inherited)
    else:
        deps = [inherited]
    if not deps and not extra:
        return child
    return pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[*deps, *extra]))
