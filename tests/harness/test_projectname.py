"""Project names: the shell script and the Python code give the same name."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kconf import project_name
from kconf.projectname import checksum_input
from tests.harness.conftest import REPO_ROOT, read_py_config

SCRIPT = str(REPO_ROOT / "scripts/generate-project-name.sh")


def _shell(model: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, model], cwd=cwd, capture_output=True, text=True, timeout=30,
                          env=env or dict(os.environ))


@pytest.mark.parametrize("dirname", ["exp", "my experiment", "ktrack-main"])
@pytest.mark.parametrize("model", ["gpt2", "lenet5", "resnet50"])
def test_shell_and_python_agree(tmp_path: Path, dirname: str, model: str) -> None:
    cwd = tmp_path / dirname
    cwd.mkdir()
    result = _shell(model, cwd)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == project_name(model, cwd)


def test_checksum_is_md5_of_echo_line(tmp_path: Path) -> None:
    line = checksum_input(tmp_path)
    assert line.endswith(f"-{tmp_path.name}\n") and line.count("\n") == 1
    echo = subprocess.run(["bash", "-c", f'echo "{line.rstrip()}" | md5sum'], capture_output=True, text=True)
    assert project_name("gpt2", tmp_path) == "gpt2-" + echo.stdout[:5]
    assert project_name("gpt2", tmp_path)[5:] == hashlib.md5(line.encode()).hexdigest()[:5]


def test_model_is_cleaned(tmp_path: Path) -> None:
    assert project_name("gpt2_small!", tmp_path).startswith("gpt2small-")
    assert _shell("gpt2_small!", tmp_path).stdout.strip() == project_name("gpt2_small!", tmp_path)


def test_missing_model_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([SCRIPT], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and "usage:" in result.stderr and result.stdout == ""
    assert _shell("!!!", tmp_path).returncode == 2
    with pytest.raises(ValueError):
        project_name("!!!", tmp_path)


def test_no_ipv4_gives_zeros(tmp_path: Path) -> None:
    """With no address on any interface both sides hash 0-0-0-0."""
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    for tool in ("ip",):
        (fakebin / tool).write_text("#!/bin/sh\nexit 0\n")
        (fakebin / tool).chmod(0o755)
    (fakebin / "hostname").write_text('#!/bin/sh\n[ "$1" = "-I" ] && exit 0\necho box.example\n')
    (fakebin / "hostname").chmod(0o755)
    env = {**os.environ, "PATH": f"{fakebin}:{os.environ['PATH']}"}
    shell = _shell("gpt2", tmp_path, env)
    expected = hashlib.md5(f"box-0-0-0-0-{tmp_path.name}\n".encode()).hexdigest()[:5]
    assert shell.stdout.strip() == f"gpt2-{expected}"
    python = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                             "from kconf.projectname import first_ipv4; print(first_ipv4())", str(REPO_ROOT)],
                            env=env, capture_output=True, text=True)
    assert python.stdout.strip() == "0.0.0.0"


def test_configured_project_starts_with_model(tree: Path, kconf_cli) -> None:
    for name, model in (("gpt2-tiny-cpu", "gpt2"), ("lenet5-cpu", "lenet5")):
        assert kconf_cli("defconfig", name).returncode == 0
        project = read_py_config(tree)["TRACKER_PROJECT"]
        assert project == project_name(model, tree)
        assert project.startswith(f"{model}-") and len(project) == len(model) + 6


def test_explicit_project_wins(tree: Path, kconf_cli) -> None:
    assert kconf_cli("defconfig", "gpt2-tiny-cpu", "--set", "TRACKER_PROJECT=my-experiments").returncode == 0
    assert read_py_config(tree)["TRACKER_PROJECT"] == "my-experiments"
