"""GPU instance types llm-infra knows on AWS: (GPU model, GPUs per instance) per type.

Pure Python (no pulumi_aws), so that stack config validation can use it. The default
for a pool without `instance_type` is the smallest type of that GPU with exactly the
pool's `gpus_per_node`; a later capacity planner may choose differently.
Sources: the EC2 accelerated-computing instance pages (G4dn, G5, G6, G6e, P4d, P4de, P5, P5en).
"""

# instance type -> (llm-infra GPU name, GPUs per instance)
GPU_INSTANCE_TYPES: dict[str, tuple[str, int]] = {
    "g4dn.xlarge": ("nvidia-t4", 1),
    "g4dn.2xlarge": ("nvidia-t4", 1),
    "g4dn.12xlarge": ("nvidia-t4", 4),
    "g4dn.metal": ("nvidia-t4", 8),
    "g5.xlarge": ("nvidia-a10g", 1),
    "g5.2xlarge": ("nvidia-a10g", 1),
    "g5.12xlarge": ("nvidia-a10g", 4),
    "g5.48xlarge": ("nvidia-a10g", 8),
    "g6.xlarge": ("nvidia-l4", 1),
    "g6.2xlarge": ("nvidia-l4", 1),
    "g6.12xlarge": ("nvidia-l4", 4),
    "g6.48xlarge": ("nvidia-l4", 8),
    "g6e.xlarge": ("nvidia-l40s", 1),
    "g6e.2xlarge": ("nvidia-l40s", 1),
    "g6e.12xlarge": ("nvidia-l40s", 4),
    "g6e.48xlarge": ("nvidia-l40s", 8),
    "p4d.24xlarge": ("nvidia-a100-40gb", 8),
    "p4de.24xlarge": ("nvidia-a100-80gb", 8),
    "p5.48xlarge": ("nvidia-h100-80gb", 8),
    "p5en.48xlarge": ("nvidia-h200-141gb", 8),
}

# The first listed type of each (GPU, count) is the smallest, hence the default.
DEFAULT_INSTANCE_TYPES: dict[tuple[str, int], str] = {}
for _type, _key in GPU_INSTANCE_TYPES.items():
    DEFAULT_INSTANCE_TYPES.setdefault(_key, _type)


def default_instance_type(gpu: str, gpus_per_node: int) -> str | None:
    """The smallest known instance type with exactly `gpus_per_node` GPUs of model `gpu`, or None."""
    return DEFAULT_INSTANCE_TYPES.get((gpu, gpus_per_node))


def check_instance_type(gpu: str, gpus_per_node: int, instance_type: str | None) -> tuple[str, str] | None:
    """None when the pool's instance type fits; else (sub-field, message) for a ConfigError line."""
    if instance_type is None:
        if default_instance_type(gpu, gpus_per_node) is None:
            known = sorted(n for (g, n) in DEFAULT_INSTANCE_TYPES if g == gpu)
            return ("instance_type", f"expected an EC2 instance type: llm-infra knows no {gpu} type with "
                    f"{gpus_per_node} GPUs (known counts: {known}), got nothing")
        return None
    known_type = GPU_INSTANCE_TYPES.get(instance_type)
    if known_type is None:
        return None  # a type llm-infra does not list: the user vouches for it
    if known_type[0] != gpu:
        return ("instance_type", f"expected an instance type with {gpu} GPUs, got {instance_type!r} ({known_type[0]})")
    if known_type[1] != gpus_per_node:
        return ("gpus_per_node", f"expected {known_type[1]} (the GPUs of {instance_type}), got {gpus_per_node}")
    return None
