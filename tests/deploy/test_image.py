"""The container image without a Docker engine: hadolint on the Dockerfile, its structure, and the
wheel it installs, run from a fresh venv that sees only the operator's runtime dependencies."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import textwrap
import venv
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from deploy_helpers import BIN, ROOT
from packaging.requirements import Requirement

DOCKERFILE = ROOT / "Dockerfile"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_hadolint_finds_nothing() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_really_linting(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n", encoding="utf-8")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag


def test_the_final_stage_is_slim_non_root_and_runs_the_operator() -> None:
    stage = final_stage()
    froms = [arg for op, arg in instructions() if op == "FROM"]
    assert len(froms) >= 2, "multi-stage: build tools stay in the first stage"
    users = [arg for op, arg in stage if op == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), (
        "numeric non-root USER for runAsNonRoot"
    )
    run_steps = " ".join(arg for op, arg in stage if op == "RUN")
    for tool in ("gcc", "build-essential", "apt-get install", "pip install", "git"):
        assert not re.search(rf"\b{tool}\b", run_steps), f"the final image must not run {tool}"
    copies = [arg for op, arg in stage if op == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"]
    assert dict(stage).get("ENTRYPOINT") == '["python", "-m", "azbatch_operator"]'
    assert dict(stage)["CMD"].startswith('["run"')
    env = " ".join(arg for op, arg in stage if op == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "HOME=/tmp" in env, "read-only root: write only to /tmp"


def test_oci_labels() -> None:
    labels = " ".join(arg for op, arg in final_stage() if op == "LABEL")
    for key in ("title", "description", "version", "revision", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels


def in_context(path: str) -> bool:
    """Whether `docker build` sends this path (relative to the root, `/`-separated) to the builder."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    included = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        for form in {bare, bare.replace("**/", "")}:  # Docker's `**/` also matches no folder
            if fnmatch.fnmatch(path, form) or path.startswith(form + "/"):
                included = negate
    return included


def test_the_build_context_holds_what_the_build_copies_and_nothing_else() -> None:
    for _, arg in (step for step in instructions() if step[0] == "COPY" and "--from" not in step[1]):
        for source in arg.split()[:-1]:
            assert in_context(source.rstrip("/")), f"COPY {source} is excluded by .dockerignore"
    for secret_prone in (".venv", "tests", ".git", "bench"):
        assert not in_context(secret_prone)


def runtime_closure() -> set[str]:
    """Distributions the operator needs without extras (what the image's pip install brings)."""
    wanted, seen = ["azbatch-operator"], set()
    while wanted:
        name = wanted.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
    return seen


@pytest.fixture(scope="module")
def operator_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built as `docker build` builds it: from the build context only (a copy, so no stale
    build/ folder of the working tree can add to it), isolated, the build backend from the index."""
    root = tmp_path_factory.mktemp("wheel")
    context = root / "context"
    for top in sorted(ROOT.iterdir()):
        if not in_context(top.name):
            continue
        for path in [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file()):
            relative = path.relative_to(ROOT).as_posix()
            if in_context(relative):
                (context / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, context / relative)
    wheels = root / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(wheels),
            str(context),
        ],
        check=True,
        timeout=180,
    )
    (wheel,) = wheels.glob("azbatch_operator-*.whl")
    return wheel


def test_the_wheel_holds_only_the_operator(operator_wheel: Path) -> None:
    with zipfile.ZipFile(operator_wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert packages == {"azbatch_operator"}, "the stand-ins are other distributions (emulator/, kubemock/)"
    assert "azbatch_operator/py.typed" in names
    assert "azbatch-operator = azbatch_operator.cli:main" in scripts
    assert "azbatch-emulator" not in scripts, "the emulator's command belongs to the emulator's distribution"


@pytest.fixture(scope="module")
def image_python(tmp_path_factory: pytest.TempPathFactory, operator_wheel: Path) -> Iterator[Path]:
    """A venv holding the operator's wheel; the dev venv's packages are visible except those only the
    extras and the stand-ins' distributions bring."""
    root = tmp_path_factory.mktemp("image")
    wheel = operator_wheel
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    site = next((env_dir / "lib").glob("python*/site-packages"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
        check=True,
        timeout=120,
    )
    runtime = runtime_closure()
    blocked = sorted(
        {
            top
            for top, dists in metadata.packages_distributions().items()
            if not any(d.lower().replace("_", "-") in runtime for d in dists)
        }
        - {"azbatch_operator"}
    )
    dev_site = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "kopf").exists())
    (site / "zz_dev_packages.pth").write_text(dev_site + "\n", encoding="utf-8")
    (site / "zz_block_extras.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            BLOCKED = frozenset({blocked!r})
            class BlockExtras:
                def find_spec(self, name, path=None, target=None):
                    if name.partition(".")[0] in BLOCKED:
                        raise ModuleNotFoundError(f"No module named {{name!r}} (not in the image)", name=name)
                    return None
            sys.meta_path.insert(0, BlockExtras())
            """
        ),
        encoding="utf-8",
    )
    (site / "zz_block_extras.pth").write_text("import zz_block_extras\n", encoding="utf-8")
    yield env_dir / "bin" / "python"


def run_image(
    python: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AZBATCH_", "PYTHONPATH"))}
    return subprocess.run(
        [str(python), "-m", "azbatch_operator", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd="/",
        env=clean | (env or {}),
    )


def test_the_wheel_is_what_runs(image_python: Path) -> None:
    where = subprocess.run(
        [str(image_python), "-c", "import azbatch_operator; print(azbatch_operator.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout
    assert str(image_python.parents[1]) in where, f"imported from the source tree, not the wheel: {where}"
    blocked = subprocess.run(
        [str(image_python), "-c", "import kmock"], capture_output=True, text=True, check=False, cwd="/"
    )
    assert "not in the image" in blocked.stderr


def test_help_runs_with_only_the_runtime_dependencies(image_python: Path) -> None:
    result = run_image(image_python, "--help")
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout


def test_run_offers_the_flags_the_chart_passes(image_python: Path) -> None:
    result = run_image(image_python, "run", "--help")
    assert result.returncode == 0, result.stderr
    for flag in (
        "--namespace",
        "--all-namespaces",
        "--metrics-port",
        "--health-port",
        "--config",
        "--standalone",  # no longer passed by the chart, still accepted (older charts, the sandbox)
        "--log-format",
    ):
        assert flag in result.stdout
    assert "--peering" not in result.stdout  # removed: see the next test


def test_run_with_the_removed_peering_says_what_to_do(image_python: Path) -> None:
    result = run_image(image_python, "run", "--peering=azbatch", "--metrics-port=0", "--health-port=0")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("azbatch-operator: --peering is no longer supported: "), result.stderr
    assert "leader election" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_a_cluster_says_what_to_do(image_python: Path, tmp_path: Path) -> None:
    missing = {"KUBECONFIG": str(tmp_path / "no-such-kubeconfig"), "HOME": str(tmp_path)}
    result = run_image(image_python, "run", "--metrics-port=0", "--health-port=0", env=missing)
    assert result.returncode == 2, result.stderr
    assert "KUBECONFIG" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_without_the_stand_ins_says_what_to_install(image_python: Path) -> None:
    for blocked in ("azbatch_emulator", "azbatch_kubemock"):
        found = subprocess.run(
            [str(image_python), "-c", f"import {blocked}"],
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
        )
        assert found.returncode != 0, f"{blocked} is importable next to the wheel"
    result = run_image(image_python, "demo", "--no-ui")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "azbatch-emulator, azbatch-kubemock not installed" in result.stderr
    assert "pip install ./emulator ./kubemock" in result.stderr
    assert "Traceback" not in result.stderr
