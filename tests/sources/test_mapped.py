import os
import shutil

import pytest
import torch
from safetensors.torch import load_file

from mmmo.errors import SourceError
from mmmo.merge import Merger
from mmmo.plan import MergePlan
from mmmo.sources import ModelPool
from mmmo.sources.mapped import MappedFile, read_header


def test_mapped_tensors_are_views_of_the_file(tiny_models):
    path = tiny_models.base / "model.safetensors"
    mapped = MappedFile(path, "base")
    loaded = load_file(str(path))
    assert set(mapped.entries) == set(loaded)
    for name, tensor in loaded.items():
        view = mapped.tensor(name)
        assert torch.equal(view, tensor) and view.dtype == tensor.dtype
    # Two reads of a tensor share memory: nothing is copied.
    name = "model.layers.0.mlp.up_proj.weight"
    assert mapped.tensor(name).data_ptr() == mapped.tensor(name).data_ptr()


def test_truncated_safetensors_is_refused_naming_file_and_tensor(tiny_models, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_models.experts["alpha"], bad)
    file = bad / "model.safetensors"
    os.truncate(file, file.stat().st_size - 100)
    with pytest.raises(SourceError, match=r"source 'bad': .*model.safetensors' is truncated: tensor '.*' ends at byte"):
        read_header(file, "source 'bad'")
    for storage in ("resident", "mmap"):
        with pytest.raises(SourceError, match=r"source 'bad': .*model.safetensors.* is truncated"):
            ModelPool.load(tiny_models.base, {"bad": bad}, storage=storage)
    os.truncate(file, 4)
    with pytest.raises(SourceError, match="not a safetensors file"):
        ModelPool.load(tiny_models.base, {"bad": bad}, storage="mmap")


def test_a_file_changed_between_trials_is_named_and_nothing_is_read_from_it(tiny_models, tmp_path):
    copy = tmp_path / "beta"
    shutil.copytree(tiny_models.experts["beta"], copy)
    pool = ModelPool.load(tiny_models.base, {"alpha": tiny_models.experts["alpha"], "beta": copy}, storage="mmap")
    merger = Merger(pool)
    plan = MergePlan.uniform("task_arithmetic", pool.names, weight=0.5)
    merger.apply(plan)
    before = {n: p.detach().clone() for n, p in merger.model.named_parameters()}
    file = copy / "model.safetensors"
    os.truncate(file, file.stat().st_size // 2)
    with pytest.raises(SourceError, match=r"source 'beta': .*beta/model.safetensors' changed on disk since it was loaded"):
        merger.apply(plan)
    with pytest.raises(SourceError, match="changed on disk"):
        merger.apply_source("alpha")
    after = dict(merger.model.named_parameters())
    assert all(torch.equal(after[n], t) for n, t in before.items())  # refused before any write


def test_a_resident_pool_holds_copies_and_survives_its_files_being_truncated(tiny_models, tmp_path):
    """Held tensors are not views of the files: a truncated file cannot kill the process (SIGBUS)."""
    import subprocess
    import sys

    script = f"""
import os, shutil, torch
from mmmo.merge import Merger
from mmmo.plan import MergePlan
from mmmo.sources import ModelPool
for dtype in (torch.float32, torch.bfloat16):
    base, copy = {str(tmp_path)!r} + f"/base{{dtype}}", {str(tmp_path)!r} + f"/beta{{dtype}}"
    shutil.copytree({str(tiny_models.base)!r}, base)
    shutil.copytree({str(tiny_models.experts["beta"])!r}, copy)
    pool = ModelPool.load(base, {{"beta": copy}}, dtype=dtype, storage="resident")
    merger = Merger(pool)
    for path in (base, copy):
        file = os.path.join(path, "model.safetensors")
        os.truncate(file, 16)
    merger.apply(MergePlan.uniform("task_arithmetic", ("beta",), weight=0.5))
    merger.apply_source("beta")
    print("merged", dtype)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["merged", "torch.float32", "merged", "torch.bfloat16"]
