"""The run folder's one table of file names, and its one JSON reader."""
from pathlib import Path

from ktrack.runfolder import RunFolder, read_json


def test_paths_of_a_run_folder(tmp_path: Path) -> None:
    f = RunFolder(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in (
        f.config, f.defconfig, f.params, f.config_json, f.journal, f.console_log, f.summary, f.numerics,
        f.checkpoint(), f.checkpoint("best"), f.tensorboard)] == [
        ".config", "defconfig", "params.yaml", "config.json", "metrics.jsonl", "console.log", "summary.json",
        "numerics.parquet", "checkpoints/last.pt", "checkpoints/best.pt", "tensorboard"]
    assert not any(tmp_path.iterdir())  # naming creates nothing


def test_read_json_gives_an_object_or_nothing(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    assert read_json(p) == {}
    for text, want in (('{"a": 1}', {"a": 1}), ("[1]", {}), ("{bad", {}), ("", {})):
        p.write_text(text, encoding="utf-8")
        assert read_json(p) == want
    p.write_bytes(b'{"a": "\xff"}')
    assert read_json(p) == {}
