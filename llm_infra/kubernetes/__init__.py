"""The cloud-agnostic Kubernetes layer: GPU software, tenant namespaces. Knows nothing of clouds."""
