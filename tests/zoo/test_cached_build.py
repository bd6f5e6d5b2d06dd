import pytest

from mmmo.zoo.cached_build import build_cached


def _writer(calls, content="built"):
    def build_into(staging):
        calls.append(staging)
        (staging / "data.txt").write_text(content)
        (staging / "manifest.json").write_text("{}")

    return build_into


def _read(folder):
    return (folder / "data.txt").read_text()


def test_builds_once_then_reads_the_cache(tmp_path):
    calls = []
    target = tmp_path / "cache" / "thing"
    assert build_cached(target, "manifest.json", _writer(calls), _read) == "built"
    assert build_cached(target, "manifest.json", _writer(calls, "again"), _read) == "built"
    assert len(calls) == 1 and calls[0] != target  # built elsewhere, then renamed into place
    assert (target.stat().st_mode & 0o777) == 0o755
    assert not list(target.parent.glob(".thing.tmp-*"))


def test_a_failed_build_leaves_neither_target_nor_staging(tmp_path):
    def dies(staging):
        (staging / "manifest.json").write_text("{}")
        raise KeyboardInterrupt

    target = tmp_path / "thing"
    with pytest.raises(KeyboardInterrupt):
        build_cached(target, "manifest.json", dies, _read)
    assert not target.exists()
    assert not list(tmp_path.glob(".thing.tmp-*"))


def test_stale_staging_and_an_incomplete_target_are_replaced(tmp_path):
    target = tmp_path / "thing"
    (tmp_path / ".thing.tmp-killed").mkdir()
    target.mkdir()
    (target / "data.txt").write_text("half")  # no manifest: not a finished build
    calls = []
    assert build_cached(target, "manifest.json", _writer(calls), _read) == "built"
    assert len(calls) == 1
    assert not (tmp_path / ".thing.tmp-killed").exists()
