"""The local stand-ins are distributions of their own (the operator's wheel is tested in
test_image.py): each wheel holds its one package, typed, with its command and its dependencies."""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from deploy_helpers import ROOT

STAND_INS = {
    "kubemock": ("azbatch_kubemock", "azbatch-kubemock = azbatch_kubemock.cli:main", "kmock"),
    "emulator": ("azbatch_emulator", "azbatch-emulator = azbatch_emulator.cli:main", "trustme"),
}


@pytest.mark.parametrize("folder", sorted(STAND_INS))
def test_a_stand_in_builds_a_wheel_of_its_own_package(folder: str, tmp_path: Path) -> None:
    package, script, dependency = STAND_INS[folder]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT / folder),
        ],
        check=True,
        timeout=180,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(info))
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {package}
    assert f"{package}/py.typed" in names
    assert f"{package}/__main__.py" in names
    assert script in entry_points
    assert any(r.startswith(dependency) for r in metadata.get_all("Requires-Dist") or [])
    assert not any(r.startswith("azbatch") for r in metadata.get_all("Requires-Dist") or [])
