"""Names a tracker would rewrite or refuse: refused with one line where they enter, never shared.

Trackio keeps a project in the file named by ``canonical_project_name``
(letters, digits, '-' and '_'), so ``my.model`` and ``mymodel`` would share
one database; W&B refuses projects over 128 characters. Each way a name
comes in is tried: ``trackers.init``, ``make defconfig``, a sweep file, replay.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trackio.sqlite_storage import SQLiteStorage
from trackio.utils import canonical_project_name

import trackers
from ktrack.names import BadName, check_project, check_run, trackio_file_name
from trackers.readback import trackio_db, trackio_rows
from trackers.replay import replay

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_names = st.one_of(st.text(min_size=1, max_size=40),
                   st.text(alphabet="abc.-_ ,=é\u0301²#?%:", min_size=1, max_size=12),
                   st.sampled_from(["my.model", "mymodel", "registry-x", "a_system", "_system", "x_artifacts",
                                    "é", "e\u0301", "a b", "a,b", "lr=1e-3"]))


@SETTINGS
@given(_names)
def test_an_accepted_project_is_stored_by_trackio_under_that_very_name(name):
    try:
        check_project(name, ["trackio", "wandb", "tensorboard"])
    except BadName as exc:
        assert "\n" not in str(exc)
        return
    assert canonical_project_name(name) == name == trackio_file_name(name)
    SQLiteStorage.validate_project_name(name)  # trackio's own refusals: none
    assert len(name) <= 128


@SETTINGS
@given(_names, _names)
def test_two_accepted_projects_never_share_a_trackio_file(a, b):
    try:
        check_project(a, ["trackio"])
        check_project(b, ["trackio"])
    except BadName:
        return
    assert (canonical_project_name(a) == canonical_project_name(b)) == (a == b)


@SETTINGS
@given(st.text(min_size=1, max_size=60))
def test_the_file_name_rule_is_trackios(name):
    assert trackio_file_name(name) == canonical_project_name(name)


def test_rules_of_enabled_trackers_only():
    assert check_project("a_system") == "a_system"  # only Trackio refuses it
    with pytest.raises(BadName, match="Trackio writes files ending in '_system' for project 'a'"):
        check_project("a_system", ["trackio"])
    with pytest.raises(BadName, match="names starting with 'registry-'"):
        check_project("registry-x", ["trackio"])
    assert check_project("p" * 129, ["trackio", "tensorboard"])
    with pytest.raises(BadName, match="has 129 characters; W&B takes at most 128"):
        check_project("p" * 129, ["wandb"])
    with pytest.raises(BadName, match=r"project 'my\.model' would be kept in Trackio's file mymodel\.db, the file "
                                      r"of project 'mymodel'; use only letters, digits, '-' and '_'"):
        check_project("my.model", ["wandb"])  # whatever is enabled: the viewer names projects Trackio's way
    assert check_run("lr=1e-3,opt=adamw") == "lr=1e-3,opt=adamw"  # no tracker renames a run


@pytest.fixture
def cfg(tmp_path):
    return types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw", RUNS_DIR=str(tmp_path / "runs"))


def test_init_refuses_a_project_trackio_would_merge_and_nothing_is_written(cfg, tmp_path, isolated_env):
    run = trackers.init(cfg=cfg, project="mymodel", run_name="r", trackers="trackio")
    run.log({"a": 1.0}, step=0)
    run.finish()
    for bad in ("my.model", "my model", "mymodel!"):
        with pytest.raises(BadName, match="would be kept in Trackio's file mymodel.db"):
            trackers.init(cfg=cfg, project=bad, run_name="r2", trackers="trackio")
        assert not (tmp_path / "runs" / bad).exists()
    assert [s for s, _ in trackio_rows(trackio_db("mymodel"), None)] == [0]  # nobody else's rows in it


def test_replay_refuses_a_journal_of_such_a_project(cfg, tmp_path, isolated_env):
    run = trackers.init(cfg=cfg, project="replayed", run_name="r", trackers="none")
    run.log({"a": 1.0}, step=0)
    run.finish()
    meta_path = run.dir / "config.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "project": "re.played"}))  # a run folder from an older ktrack
    with pytest.raises(BadName, match="would be kept in Trackio's file replayed.db"):
        replay(run.dir, "trackio")
    assert not trackio_db("replayed").exists()


@pytest.mark.parametrize("assign, tracker, why", [
    ("TRACKER_PROJECT=my.model", None, "CONFIG_TRACKER_PROJECT: project 'my.model' would be kept in Trackio's "
                                       "file mymodel.db"),
    ("TRACKER_PROJECT=exp_configs", "trackio", "CONFIG_TRACKER_PROJECT: project 'exp_configs': Trackio writes files"),
    (f"TRACKER_PROJECT={'w' * 129}", "wandb", "W&B takes at most 128"),
])
def test_make_defconfig_refuses_the_name_in_one_line_and_writes_nothing(tree: Path, make, assign, tracker, why):
    env = {"SET": assign, **({"TRACKER": tracker} if tracker else {})}
    result = make("defconfig", "DEFCONFIG=gpt2-tiny-cpu", env=env)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors and errors[0].startswith("ktrack-config: error: ") and why in errors[0], result.stderr
    assert not (tree / ".config").exists() and not (tree / "config.py").exists()
    assert make("defconfig", "DEFCONFIG=gpt2-tiny-cpu", env={"SET": assign.split("=")[0] + "=ok-name"}
                ).returncode == 0
