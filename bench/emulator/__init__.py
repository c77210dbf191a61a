"""Emulator throughput and memory with many pools (`python -m bench.emulator --help`)."""
