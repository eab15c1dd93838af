"""The bottom layer's tables about each cloud: which machine types carry which GPUs, and the
sourced facts (allocatable resources, tenancy, disks, zones) that config checks and the cloud
layers read. One module per cloud (`aws`, `gcp`, `azure`) and its facts (`<cloud>_facts`);
prices live in `llm_infra.planning.catalog`. Pure Python: no cloud SDK is imported.
"""
