"""Azure adapters."""
