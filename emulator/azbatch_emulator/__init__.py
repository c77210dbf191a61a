"""Local Azure Batch and Entra ID emulator.

- `start_emulator(...)`: in-process, async (`async with start_emulator() as emu: emu.info`).
- `EmulatorThread`: the same from sync code, on a background thread.
- `EmulatorProcess`: `azbatch-emulator serve` as a subprocess that can be killed and restarted.
- `azbatch_emulator.admin.AdminClient(info)`: faults, scripts, clock, counters, drift.
"""

from azbatch_emulator.emulator import Emulator, start_emulator
from azbatch_emulator.runners import EmulatorProcess, EmulatorThread
from azbatch_emulator.timings import Timings

__all__ = ["Emulator", "EmulatorProcess", "EmulatorThread", "Timings", "start_emulator"]
