"""The init container that fills a replica's model cache from the weights bucket.

Each replica owns a persistent volume (a StatefulSet volume claim) on the cluster's
customer-key-encrypted storage class. The script writes a completion marker only after a
full sync, so an interrupted download resumes and a restarted or re-scaled replica whose
cache already holds the pinned revision starts without touching the bucket at all.
Without a pinned revision every start runs the tool's incremental sync, which copies
only what changed.
"""

from __future__ import annotations

from ..config import parse_weights_uri

CACHE_MOUNT = "/cache"
WEIGHTS_DIR = f"{CACHE_MOUNT}/weights"
MARKER = f"{CACHE_MOUNT}/.llm-infra-complete"

# The incremental copy per URI scheme; credentials come from workload identity only.
_SYNC_COMMANDS = {
    "s3": 'aws s3 sync --only-show-errors --no-progress "$WEIGHTS_URI" "$WEIGHTS_DIR"',
    "gs": 'gcloud storage rsync --recursive --no-user-output-enabled "$WEIGHTS_URI" "$WEIGHTS_DIR"',
    # Azure workload identity: the webhook injects AZURE_CLIENT_ID, AZURE_TENANT_ID and a
    # projected token file; download-batch without overwrite skips files already present.
    "azureblob": (
        'az login --service-principal -u "$AZURE_CLIENT_ID" -t "$AZURE_TENANT_ID" '
        '--federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")" --output none && '
        'az storage blob download-batch --auth-mode login --account-name "$STORE_ACCOUNT" '
        '--source "$STORE_CONTAINER" --pattern "${STORE_PREFIX:+$STORE_PREFIX/}*" '
        '--destination "$WEIGHTS_DIR" --overwrite false --only-show-errors --output none'
    ),
}


def sync_env(weights_uri: str, revision: str | None) -> dict[str, str]:
    """Environment the script reads: the URI, the pinned revision and the store's parts."""
    scheme, bucket, prefix = parse_weights_uri(weights_uri)
    env = {
        "WEIGHTS_URI": weights_uri,
        "WEIGHTS_REVISION": revision or "",
        "WEIGHTS_DIR": WEIGHTS_DIR,
        "CACHE_MARKER": MARKER,
    }
    if scheme == "azureblob":
        account, container = bucket.split("/", 1)
        env |= {"STORE_ACCOUNT": account, "STORE_CONTAINER": container, "STORE_PREFIX": prefix}
    return env


def sync_script(weights_uri: str) -> str:
    """POSIX shell run by the init container (also run for real by the tests)."""
    scheme = parse_weights_uri(weights_uri)[0]
    return "\n".join(
        [
            "set -eu",
            'want="$WEIGHTS_URI@${WEIGHTS_REVISION:-unpinned}"',
            'if [ -n "$WEIGHTS_REVISION" ] && [ -f "$CACHE_MARKER" ] && [ "$(cat "$CACHE_MARKER")" = "$want" ]; then',
            '  echo "model cache holds $want; skipping download"',
            "  exit 0",
            "fi",
            'rm -f "$CACHE_MARKER"',
            'mkdir -p "$WEIGHTS_DIR"',
            'echo "syncing $WEIGHTS_URI into $WEIGHTS_DIR"',
            _SYNC_COMMANDS[scheme],
            'printf "%s" "$want" > "$CACHE_MARKER"',
            'echo "model cache complete: $want"',
        ]
    )
