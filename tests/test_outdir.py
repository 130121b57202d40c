"""The output policy every writing command shares (codesign.outdir)."""

import contextlib
import multiprocessing
import os
import signal
import time

import pytest

from codesign import outdir
from codesign.outdir import OutputError


def tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write(out, command="report", force=False, text="new", **kwargs):
    with outdir.staged(out, command, force=force, **kwargs) as stage:
        (stage / "a.txt").write_text(text)
        (stage / "sub").mkdir()
        (stage / "sub" / "b.txt").write_text(text)


def test_a_new_output_appears_complete_with_its_marker(tmp_path):
    out = tmp_path / "deep" / "r"
    write(out)
    assert (out / "a.txt").read_text() == "new" and (out / "sub" / "b.txt").read_text() == "new"
    mark = outdir.marker(out)
    assert mark["command"] == "report" and mark["files"] == ["a.txt", "sub/b.txt"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["r"]  # no staging or lock left beside it


def test_an_earlier_output_is_replaced_only_with_force(tmp_path):
    out = tmp_path / "r"
    write(out, text="first")
    before = tree(out)
    with pytest.raises(OutputError, match=r"already holds a `codesign report` output; pass --force"):
        write(out, text="second")
    assert tree(out) == before
    write(out, text="second", force=True)
    assert (out / "a.txt").read_text() == "second"


@pytest.mark.parametrize("force", [False, True])
def test_a_directory_of_anything_else_is_never_replaced(tmp_path, force):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    with pytest.raises(OutputError, match=r"holds files codesign did not write .*nothing was written"):
        write(out, force=force)
    assert tree(out) == {"thesis.tex": b"keep me"}
    other = tmp_path / "bundle"
    write(other, command="export")
    with pytest.raises(OutputError, match=r"holds the output of `codesign export`, not of `codesign report`"):
        write(other, force=force)


def test_force_refuses_an_earlier_output_a_user_added_files_to(tmp_path):
    out = tmp_path / "r"
    write(out)
    (out / "notes.txt").write_text("mine")
    (out / "derived").mkdir()  # a codesign output derived from this one is not the user's
    write(out / "derived", command="emulate")
    with pytest.raises(OutputError, match=r"did not write \(notes.txt\)"):
        write(out, force=True)
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    write(out, force=True)
    assert not (out / "derived").exists()


def test_an_output_that_holds_an_input_or_lies_in_a_forbidden_place_is_refused(tmp_path):
    study = tmp_path / "work" / "study"
    study.mkdir(parents=True)
    (study / "search.json").write_text("{}")
    for out in (tmp_path / "work", study, tmp_path):
        with pytest.raises(OutputError, match="contains .*an input of this command"):
            write(out, force=True, inputs=[study])
    with pytest.raises(OutputError, match="lies inside"):
        write(study / "bundle", not_inside=[study])
    assert tree(tmp_path) == {"work/study/search.json": b"{}"}


def test_a_failed_command_leaves_the_earlier_output_and_no_staging(tmp_path):
    out = tmp_path / "r"
    write(out, text="first")
    before = tree(out)
    with pytest.raises(RuntimeError), outdir.staged(out, "report", force=True) as stage:
        (stage / "a.txt").write_text("half")
        raise RuntimeError("boom")
    assert tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_a_file_where_a_directory_is_expected_and_unwritable_parents(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        write(tmp_path / "f")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        write(tmp_path / "f" / "r")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "ro"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            with pytest.raises(OutputError, match="cannot"):
                write(locked / "r")
        finally:
            locked.chmod(0o700)


def _hold(kind, out, started):
    with (outdir.staged(out, "train") if kind == "staged" else outdir.continued(out, "search")) as where:
        (where / "x").write_text("1")
        started.set()
        time.sleep(60)


@contextlib.contextmanager
def held_by_a_killed_process(kind, out):
    """`out` held by another process for the block; that process is then SIGKILLed (as a crash would)."""
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    first = ctx.Process(target=_hold, args=(kind, out, started))
    first.start()
    try:
        assert started.wait(30)
        yield
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.join()


def test_a_second_writer_is_refused_and_a_killed_one_blocks_nothing(tmp_path):
    out = tmp_path / "run"
    with held_by_a_killed_process("staged", out), \
            pytest.raises(OutputError, match=r"another `codesign train` is writing it now"):
        write(out, command="train")
    assert not out.exists() and (tmp_path / ".run.partial").is_dir()  # what the killed writer left
    write(out, command="train")  # its staging directory is stale: cleared, not an obstacle
    assert (out / "a.txt").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_second_driver_of_one_study_is_refused(tmp_path):
    out = tmp_path / "study"
    with held_by_a_killed_process("continued", out), \
            pytest.raises(OutputError, match=r"another `codesign search` is writing it now"), \
            outdir.continued(out, "search"):
        pass
    with outdir.continued(out, "search"):  # the lock died with its process
        pass


def test_continued_outputs_are_added_to_never_replaced(tmp_path):
    out = tmp_path / "study"
    with outdir.continued(out, "search") as d:
        (d / "trial0.json").write_text("0")
    with outdir.continued(out, "search") as d:
        (d / "trial1.json").write_text("1")
    assert {"trial0.json", "trial1.json"} <= {p.name for p in out.iterdir()}
    with pytest.raises(OutputError, match=r"holds the output of `codesign search`"), outdir.continued(out, "dqm train"):
        pass
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.txt").write_text("x")
    with pytest.raises(OutputError, match="holds files codesign did not write"), outdir.continued(mine, "search"):
        pass
    legacy = tmp_path / "old_study"
    legacy.mkdir()
    (legacy / "search.json").write_text("{}")
    with outdir.continued(legacy, "search", legacy="search.json"):
        pass
    assert outdir.marker(legacy)["command"] == "search"
