"""Local Kubernetes API stand-in for tests and the demo."""
