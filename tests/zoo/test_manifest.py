import pytest

from mmmo.errors import ZooError
from mmmo.zoo.manifest import manifest_scores, read_manifest, write_manifest


def test_written_manifest_reads_back(tmp_path):
    manifest = {"scores": {"base": {"t1": {"exact_match": 0.25, "n": 4}}}, "config": {"seed": 3}}
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path, "zoo") == manifest
    assert manifest_scores(manifest, "exact_match") == {"base": {"t1": 0.25}}


def test_a_missing_or_broken_manifest_names_the_file_and_the_kind(tmp_path):
    with pytest.raises(ZooError, match=r"manifest.json not found: .* is not a built real zoo"):
        read_manifest(tmp_path, "real zoo")
    (tmp_path / "manifest.json").write_text('{"scores": ')
    with pytest.raises(ZooError, match=r"manifest.json is not a zoo manifest"):
        read_manifest(tmp_path, "zoo")
