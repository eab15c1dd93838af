"""Deterministic GCP names and identities derived from stack config (pure Python, no pulumi_gcp).

Names are fixed rather than auto-suffixed: the plan shows them, IAM bindings name service
accounts before they exist (under the mock engine computed outputs such as emails are
absent, and in a real preview they are unknown), and a second stack in the same project
never collides because the environment is part of every name.
"""

from ..config.gcp import default_model_bucket  # noqa: F401 (re-exported)
from ..naming import fit  # noqa: F401 (re-exported)

KEY_USER_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


def cluster_name(environment: str) -> str:
    """GKE cluster name: at most 40 characters."""
    return fit(f"llm-{environment}", 40)


def service_account_id(name: str) -> str:
    """A Google service account id: 6 to 30 characters, a letter first."""
    return fit(name, 30)


def service_account_email(account_id: str, project: str) -> str:
    return f"{account_id}@{project}.iam.gserviceaccount.com"


def node_service_account_id(cluster: str) -> str:
    return service_account_id(f"{cluster}-nodes")


def model_service_account_id(cluster: str, model: str) -> str:
    return service_account_id(f"{cluster}-{model}")


def workload_pool(project_id: str) -> str:
    """The Workload Identity pool of every GKE cluster of the project."""
    return f"{project_id}.svc.id.goog"


def workload_identity_member(project_id: str, namespace: str, service_account: str) -> str:
    """The IAM member of one Kubernetes service account through Workload Identity."""
    return f"serviceAccount:{workload_pool(project_id)}[{namespace}/{service_account}]"


# The Google-managed service agents that encrypt with a customer key on our behalf.
def gke_service_agent(project_number: str) -> str:
    """Encrypts Kubernetes Secrets in etcd (application-layer secrets encryption)."""
    return f"service-{project_number}@container-engine-robot.iam.gserviceaccount.com"


def compute_service_agent(project_number: str) -> str:
    """Encrypts node boot disks and the persistent disks of the model caches."""
    return f"service-{project_number}@compute-system.iam.gserviceaccount.com"


def storage_service_agent(project_number: str) -> str:
    """Encrypts and decrypts the model bucket's objects (readers need no key permission)."""
    return f"service-{project_number}@gs-project-accounts.iam.gserviceaccount.com"


def key_service_agents(project_number: str) -> list[str]:
    """Exactly the members that may use the stack key, as IAM members."""
    return [f"serviceAccount:{agent(project_number)}"
            for agent in (gke_service_agent, compute_service_agent, storage_service_agent)]


def default_compute_service_account(project_number: str) -> str:
    """The project's default compute account (Editor on the project): nodes never run as it."""
    return f"{project_number}-compute@developer.gserviceaccount.com"
