"""model.files: the one home for writing files whole (write_atomically, Parquet, TOML)
and the folder checks run.py and calibrate make before they run."""

import tomllib

import pandas as pd
import pytest

from model.files import (FolderBusy, FolderError, create_folder, folder_lock, missing_folders,
                         probe_writable, remove_if_empty, toml_text, write_atomically,
                         write_parquet, write_toml)


def test_write_atomically_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_write_atomically_failure_names_the_path_and_cleans_up(tmp_path):
    path = tmp_path / "missing" / "a.txt"  # its folder does not exist
    with pytest.raises(OSError) as caught:
        write_atomically(path, b"x")
    assert caught.value.filename == str(path)
    assert list(tmp_path.iterdir()) == []


def test_write_parquet_round_trips(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    write_parquet(tmp_path / "t.parquet", frame)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), frame)


def test_write_toml_keeps_header_and_content(tmp_path):
    table = {"description": "it's \"quoted\"", "parameters": {"a": 0.5, "push": {"2020-05": {"x": 3}}}}
    write_toml(tmp_path / "s.toml", table, ["# one", "# two"])
    text = (tmp_path / "s.toml").read_text()
    assert text.startswith("# one\n# two\n")
    assert tomllib.loads(text) == table
    with pytest.raises(ValueError, match="comments"):
        toml_text(table, ["not a comment"])


def test_folder_helpers_say_which_flag_and_undo(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FolderError, match=r"^--db-dir .*file is a file, not a folder"):
        create_folder(tmp_path / "file" / "sub", "--db-dir")
    new = tmp_path / "n1" / "n2"
    missing = missing_folders(new)
    assert missing == [new, tmp_path / "n1"]
    create_folder(new)
    probe_writable(new)
    assert list(new.iterdir()) == []  # the probe is gone
    remove_if_empty(missing)
    assert not (tmp_path / "n1").exists()


def test_folder_lock_holds_one_command_at_a_time_and_leaves_the_folder_as_it_was(tmp_path):
    import os

    folder = tmp_path / "fit"
    folder.mkdir()
    with folder_lock(folder, "calibration"):
        assert (folder / ".lock").read_text() == f"{os.getpid()}\n"  # for the message
        # a second holder (another open of the folder, as another process makes) is refused
        with pytest.raises(FolderBusy) as busy:
            with folder_lock(folder, "sweep", flag="--out"):
                pytest.fail("two holders")
        assert str(busy.value) == (f"{folder} is in use by another sweep (pid {os.getpid()}); "
                                   f"wait for it to finish or use another --out")
    assert list(folder.iterdir()) == []  # released, and the pid file gone
    (folder / ".lock").write_text("999999\n")  # a killed holder's
    with folder_lock(folder, "calibration"):  # is no holder: the OS released its lock
        assert (folder / ".lock").read_text() == f"{os.getpid()}\n"
    with pytest.raises(FolderError, match=r"^--db .*/missing: cannot open the folder: No such"):
        with folder_lock(tmp_path / "missing", "calibration", flag="--db"):
            pass
