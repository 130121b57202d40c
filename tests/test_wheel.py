"""The built wheel works on its own: installed into a clean virtual environment, away from the checkout, it
finds its FPGA targets and design spaces (package data) and runs a search.

The pinned dependencies are not installed again (minutes, and a network): the clean environment sees this
environment's site-packages as a plain path line of a .pth file. Only a *site* directory's own .pth files run,
so the editable install of codesign that lives there (a .pth-activated finder pointing at the checkout) stays
inactive, and `import codesign` must come from the wheel — which the test checks.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.search import tiny

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_TARGETS = sorted(p.stem for p in (ROOT / "codesign" / "hardware" / "parts").glob("*.yaml"))
SHIPPED_SPACES = sorted(p.stem for p in (ROOT / "codesign" / "search" / "spaces").glob("*.yaml"))


def run(cmd, cwd, env, timeout=300):
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory):
    """A fresh venv holding only the wheel built from this checkout; the dependencies seen through a .pth line."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy of the sources, so the build writes nothing (build/, *.egg-info) into the checkout.
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.egg-info")
    shutil.copytree(ROOT / "codesign", src / "codesign", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp / "dist", src], tmp, env)
    (wheel,) = (tmp / "dist").glob("codesign-*.whl")

    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp, env)
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
        tmp, env)
    purelib = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env).strip())
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (purelib / "codesign-test-dependencies.pth").write_text("".join(f"{p}\n" for p in ours))

    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    work = tmp / "work"  # outside the checkout: nothing there to import by accident
    work.mkdir()
    where = run([python, "-c", "import codesign; print(codesign.__file__)"], work, env)
    assert Path(where.strip()).is_relative_to(venv), f"codesign imported from {where.strip()}, not the wheel"
    assert not Path(where.strip()).is_relative_to(ROOT)
    return venv, work, env


def test_wheel_lists_its_targets_and_spaces(clean_venv):
    venv, work, env = clean_venv
    out = run([venv / "bin" / "codesign", "targets", "--json"], work, env)
    assert sorted(t["name"] for t in json.loads(out)) == SHIPPED_TARGETS
    out = run([venv / "bin" / "codesign", "targets"], work, env)
    assert all(name in out for name in SHIPPED_TARGETS)
    spaces = run([venv / "bin" / "python", "-c", "from codesign.search import space; print(' '.join(space.available()))"],
                 work, env)
    assert spaces.split() == SHIPPED_SPACES


def test_wheel_runs_a_search_with_a_shipped_space_and_target(clean_venv):
    """One trial of the main job's space (found by name in the wheel) on tiny data (a user's config by path)."""
    venv, work, env = clean_venv
    tiny.write(work)
    out = run([venv / "bin" / "codesign", "search", "--space", "l1_quick", "--config", work / "base.yaml",
               "--target", "xcvu9p", "--budget", "luts=5%", "--trials", "1", "--fidelity", "0", "--quiet",
               "--out", work / "run"], work, env, timeout=600)
    with open(work / "run" / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows if not r["reference"]] == ["complete"], out


def test_wheel_carries_every_file_of_the_package(clean_venv):
    """Templates, presets, spaces, parts, calibration: whatever the package reads at run time is in the wheel."""
    venv, work, env = clean_venv
    installed = Path(run([venv / "bin" / "python", "-c", "import codesign; print(codesign.__file__)"], work,
                         env).strip()).parent

    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".so")}

    missing = files(ROOT / "codesign") - files(installed)
    assert not missing, f"not in the wheel: {sorted(missing)}"
