"""Local Azure Batch and Entra ID emulator."""
