"""What GCP answers to the provider functions the stack calls, for the offline plan (pure Python).

Only lookups whose answer a real project determines from its number: the Cloud Storage
service agent (`storage.projects.serviceAccount.get`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STORAGE_AGENT_TOKEN = "gcp:storage/getProjectServiceAccount:getProjectServiceAccount"


def call_result(token: str, args: Mapping[str, Any], project_number: str | None) -> dict[str, Any]:
    if token == STORAGE_AGENT_TOKEN and project_number:
        email = f"service-{project_number}@gs-project-accounts.iam.gserviceaccount.com"
        return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": args.get("project"),
                "id": email}
    return {}
