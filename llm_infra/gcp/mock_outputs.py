"""What GCP computes on create and answers to the provider functions the stack calls, for the
offline plan (pure Python).

Resources: the VPC peering GKE names for a private cluster's control plane. Functions: only
lookups whose answer a real project determines from its number: the Cloud Storage service
agent (`storage.projects.serviceAccount.get`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

STORAGE_AGENT_TOKEN = "gcp:storage/getProjectServiceAccount:getProjectServiceAccount"


def resource_outputs(type_: str, name: str, inputs: Mapping[str, Any], config: Callable[[str], Any]) -> dict[str, Any]:
    """The outputs GCP adds to resource `name` of type `type_`; `config` reads a stack config key."""
    if type_ == "gcp:container/cluster:Cluster":
        # A peering-based private cluster: GKE names the control plane's VPC peering.
        cluster = inputs.get("name", name)
        private = dict(inputs.get("privateClusterConfig") or {})
        return {"privateClusterConfig": {**private,
                                         "peeringName": f"gke-n{hashlib.sha1(cluster.encode()).hexdigest()[:16]}-peer"}}
    return {}


def call_outputs(token: str, args: Mapping[str, Any], config: Callable[[str], Any]) -> dict[str, Any]:
    """What a provider function returns; `config` reads a stack config key."""
    gcp = config("llm-infra:gcp")
    return call_result(token, args, str(gcp.get("project_number")) if isinstance(gcp, Mapping) else None)


def call_result(token: str, args: Mapping[str, Any], project_number: str | None) -> dict[str, Any]:
    if token == STORAGE_AGENT_TOKEN and project_number:
        email = f"service-{project_number}@gs-project-accounts.iam.gserviceaccount.com"
        return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": args.get("project"),
                "id": email}
    return {}
