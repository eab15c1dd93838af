"""Triton Inference Server: model repository generation and the per-model workload."""
