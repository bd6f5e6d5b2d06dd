import json

import torch
from safetensors.torch import load_file

from mmmo.merge import Merger
from mmmo.plan import MergePlan, SourceParams, TensorGrouping
from mmmo.sources import ModelPool


def _load(out_dir):
    state = {}
    for file in out_dir.glob("*.safetensors"):
        state.update(load_file(str(file)))
    return state


def test_export_writes_checkpoint_plan_and_reproducible_mergekit_yaml(tiny_merger, live, mergekit_runner, tmp_path):
    import yaml
    from transformers import AutoModelForCausalLM

    pool = tiny_merger.pool
    grouping = TensorGrouping("blocks", num_layers=2, blocks=2)
    params = {
        "embed": tuple(SourceParams(0.5, 0.9) for _ in pool.names),
        "block0": (SourceParams(1.0, 0.3), SourceParams(0.4, 0.7), SourceParams(0.8, 0.5)),
        "block1": (SourceParams(0.2, 1.0), SourceParams(1.1, 0.4), SourceParams(0.6, 0.6)),
        "head": tuple(SourceParams(0.7, 0.8) for _ in pool.names),
    }
    plan = MergePlan("ties", pool.names, params, grouping, seed=3)
    out = tiny_merger.export(plan, tmp_path / "export")
    merged = live(tiny_merger)
    assert MergePlan.from_dict(json.loads((out / "merge_plan.json").read_text())) == plan
    exported = _load(out)
    for name, tensor in merged.items():
        assert torch.equal(exported[name], tensor)
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(out).get_vocab() == pool.tokenizer.get_vocab()
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    assert torch.equal(reloaded.get_parameter("model.norm.weight"), merged["model.norm.weight"])
    config = yaml.safe_load((out / "mergekit.yaml").read_text())
    theirs = mergekit_runner(config, tmp_path / "mergekit")
    for name, tensor in merged.items():
        torch.testing.assert_close(theirs[name], tensor, atol=1e-6, rtol=1e-5)


def test_export_skips_mergekit_yaml_for_adapters(tiny_models, tmp_path):
    pool = ModelPool.load(tiny_models.base, {"lora": tiny_models.adapter, "alpha": tiny_models.experts["alpha"]})
    out = Merger(pool).export(MergePlan.uniform("task_arithmetic", pool.names), tmp_path / "export")
    assert (out / "config.json").is_file() and (out / "merge_plan.json").is_file()
    assert not (out / "mergekit.yaml").exists()
