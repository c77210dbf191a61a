"""Pydantic models of the BatchPool spec and status."""
