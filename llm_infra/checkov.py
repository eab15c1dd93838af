"""checkov suppressions as Kubernetes object annotations, for every layer that writes objects.

checkov reads `checkov.io/skipN: CKV_K8S_xx=reason` from an object's annotations
(tests/test_manifests.py runs the real checkov over every manifest and holds each
suppression to that shape). A reason says why the check does not apply; checkov splits the
value on '=', so a reason carries none.
"""


def checkov_skips(reasons: dict[str, str]) -> dict[str, str]:
    """checkov suppressions as object annotations (`checkov.io/skipN: CKV_K8S_xx=reason`), numbered in check order."""
    out = {}
    for i, (check, reason) in enumerate(sorted(reasons.items()), start=1):
        if "=" in reason:  # checkov splits the value on '='
            raise ValueError(f"checkov reason for {check}: expected no '=', got {reason!r}")
        out[f"checkov.io/skip{i}"] = f"{check}={reason}"
    return out
