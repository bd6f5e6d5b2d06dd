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


def test_export_writes_mergekit_yaml_in_model_plus_lora_syntax_for_adapters(tiny_models, tmp_path):
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    import yaml

    pool = ModelPool.load(tiny_models.base, {"lora": tiny_models.adapter, "alpha": tiny_models.experts["alpha"]})
    merger = Merger(pool)
    plan = MergePlan.uniform("task_arithmetic", pool.names, weight=[0.7, 0.4])
    out = merger.export(plan, tmp_path / "export")
    assert (out / "config.json").is_file() and (out / "merge_plan.json").is_file()
    config = yaml.safe_load((out / "mergekit.yaml").read_text())
    models = {m["model"]: m["parameters"]["weight"] for m in config["models"]}
    assert models == {f"{tiny_models.base}+{tiny_models.adapter}": 0.7, str(tiny_models.experts["alpha"]): 0.4}
    # mergekit applies the adapter to the base itself and merges to the same weights.
    exported = _load(out)
    options = MergeOptions(
        quiet=True, copy_tokenizer=False, write_model_card=False, lora_merge_cache=str(tmp_path / "lora_cache")
    )
    run_merge(MergeConfiguration.model_validate(config), str(tmp_path / "mergekit"), options)
    theirs = _load(tmp_path / "mergekit")
    assert theirs.keys() == exported.keys()
    for name, tensor in exported.items():
        torch.testing.assert_close(theirs[name], tensor, atol=1e-6, rtol=1e-5)


def test_export_with_an_in_memory_source_says_why_it_writes_no_mergekit_yaml(tiny_models, tmp_path, caplog):
    import logging

    from transformers import AutoModelForCausalLM

    in_memory = AutoModelForCausalLM.from_pretrained(tiny_models.experts["alpha"])
    pool = ModelPool.load(tiny_models.base, {"resident": in_memory, "lora": tiny_models.adapter})
    with caplog.at_level(logging.INFO, logger="mmmo.merge.export"):
        out = Merger(pool).export(MergePlan.uniform("task_arithmetic", pool.names), tmp_path / "export")
    assert (out / "config.json").is_file()
    assert not (out / "mergekit.yaml").exists()
    assert "in-memory" in caplog.text and "resident" in caplog.text
