"""User data for EKS GPU nodes (AL2023): the NVIDIA container toolkit settings `volume-mounts` needs.

EKS managed node groups take a launch template's user data as MIME multi-part and add their own
nodeadm part; a `text/x-shellscript` part runs through cloud-init before nodeadm starts containerd
and the kubelet (`catalog.aws_facts.GPU_NODE_RUNTIME_SOURCES`). The script sets the toolkit's two settings
with `nvidia-ctk config --in-place`, so an unprivileged container's `NVIDIA_VISIBLE_DEVICES` (CUDA
images set it to `all`) is ignored and only the device plugin's mounts select GPUs.
"""

import base64

from ..device_list import NODE_RUNTIME_SETTINGS

TOOLKIT_CONFIG = "/etc/nvidia-container-runtime/config.toml"
_BOUNDARY = "==LLMINFRA=="


def gpu_isolation_script() -> str:
    """The shell script: fails the boot (cloud-init reports it) rather than leave the toolkit open."""
    sets = " ".join(f"--set {key}={value}" for key, value in NODE_RUNTIME_SETTINGS.items())
    return (
        "#!/bin/bash\n"
        "set -euo pipefail\n"
        "# llm-infra: GPUs reach a container only through the device plugin's volume mounts.\n"
        f"nvidia-ctk config --config-file {TOOLKIT_CONFIG} --in-place {sets}\n"
    )


def gpu_isolation_user_data() -> str:
    """Base64 MIME multi-part user data holding `gpu_isolation_script()` (what EC2 launch templates take)."""
    mime = (
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{_BOUNDARY}"\n'
        "\n"
        f"--{_BOUNDARY}\n"
        'Content-Type: text/x-shellscript; charset="us-ascii"\n'
        "\n"
        # The line break before a boundary belongs to the boundary (RFC 2046): keep the script's own.
        f"{gpu_isolation_script()}\n"
        f"--{_BOUNDARY}--\n"
    )
    return base64.b64encode(mime.encode()).decode()
