"""Kubernetes adapters beyond what kopf does for us: Secrets, status writes, the cluster id."""
