import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from botorch.test_utils.mock import mock_optimize_context_manager
from safetensors.torch import load_file

from mmmo.campaign import Campaign
from mmmo.errors import CampaignLockedError, ConfigError, SourceError, StoreError
from mmmo.objectives.base import Measurement
from mmmo.plan import MergePlan
from mmmo.search.pareto import hypervolume, infer_ref_point, pareto_mask, to_maximization
from micro_models import save_micro_models

TESTS = Path(__file__).resolve().parent
REFERENCES = ["base", "a", "b", "recipe:linear", "recipe:task_arithmetic", "recipe:ties", "recipe:dare_ties"]


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    """A 4-layer random Llama base, two perturbed sources and two answer files."""
    root = tmp_path_factory.mktemp("micro")
    save_micro_models(root, num_layers=4)
    for task, letters in (("t1", "abc"), ("t2", "xyz")):
        lines = [json.dumps({"prompt": c * 3, "answer": c[::-1]}) for c in letters]
        (root / f"{task}.jsonl").write_text("\n".join(lines) + "\n")
    return root


def config_for(root, **overrides):
    config = {
        "base": str(root / "base"),
        "models": [{"path": str(root / "a"), "name": "a"}, {"path": str(root / "b"), "name": "b"}],
        "space": "dare_ties",
        "objectives": [
            {"kind": "answer_loglik", "data": str(root / "t1.jsonl"), "name": "t1"},
            {"kind": "answer_loglik", "data": str(root / "t2.jsonl"), "name": "t2"},
        ],
        "budget": {"trials": 5, "initial": 2, "batch_size": 2},
        "device": "cpu",
        "seed": 1,
    }
    config.update(overrides)
    return config


@pytest.fixture
def worker_objectives(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))


def test_campaign_end_to_end(micro, tmp_path):
    reports = []
    with Campaign.create(tmp_path / "c.sqlite", config_for(micro)) as campaign:
        with mock_optimize_context_manager():
            campaign.run(callback=reports.append)
        trials = campaign.trials()
        front = campaign.front()
        history = campaign.hypervolume_history()
        ref_point = campaign.reference_point()

    assert list(trials.columns) == [
        "trial_id", "status", "proposer", "origin", "label", "method",
        "weight[all][a]", "density[all][a]", "weight[all][b]", "density[all][b]", "t1", "t2",
        "seconds_merge", "seconds_eval", "seconds_propose", "error", "seed", "worker", "fidelity", "cost",
    ]
    assert trials["origin"].tolist() == ["reference"] * 7 + ["searched"] * 5
    assert trials["label"].tolist()[:7] == REFERENCES
    searched = trials[trials["proposer"] != "reference"]
    # The base, both sources and the DARE-TIES recipe are points of the space: four observations,
    # more than budget.initial = 2; the design is still the centre and the two sources merged.
    assert searched["proposer"].tolist() == ["design", "design", "qlognehvi", "qlognehvi", "qlognehvi"]
    assert searched.iloc[0]["weight[all][a]"] == pytest.approx(0.75)
    assert searched.iloc[0]["density[all][b]"] == pytest.approx(0.55)
    pair = searched.iloc[1]
    assert (pair["weight[all][a]"], pair["weight[all][b]"], pair["density[all][a]"]) == pytest.approx((1, 1, 1))
    assert (trials["status"] == "complete").all()
    assert searched["method"].eq("dare_ties").all()
    assert searched["weight[all][a]"].between(0.0, 1.5).all() and searched["density[all][b]"].between(0.1, 1.0).all()
    assert [r.done for r in reports] == [0] * 7 + [1, 2, 3, 4, 5]
    assert all(r.total == 5 for r in reports)

    # The front is exactly the non-dominated complete trials, references included.
    Y = torch.tensor(trials[["t1", "t2"]].to_numpy(), dtype=torch.float64)
    expected = set(trials["trial_id"][pareto_mask(Y).numpy()])
    assert set(front["trial_id"]) == expected
    assert front["is_reference"].tolist() == (front["proposer"] == "reference").tolist()

    # Reference point: min of base and sources minus 10% of their range.
    anchors = torch.tensor(trials[trials["label"].isin(["base", "a", "b"])][["t1", "t2"]].to_numpy())
    assert torch.allclose(ref_point, infer_ref_point(anchors))
    assert len(history) == 12
    assert history["hypervolume"].is_monotonic_increasing
    assert history["hypervolume"].iloc[-1] == pytest.approx(hypervolume(Y, ref_point))
    assert reports[-1].hypervolume == pytest.approx(history["hypervolume"].iloc[-1])


def test_select_and_export(micro, tmp_path):
    with Campaign.create(tmp_path / "c.sqlite", config_for(micro, budget={"trials": 2, "initial": 2})) as campaign:
        campaign.run()
        front = campaign.front()
        best_t1 = campaign.select({"t1": 1.0})
        assert best_t1["t1"] == front["t1"].max()
        assert campaign.select([0.0, 2.0])["t2"] == front["t2"].max()
        with pytest.raises(ConfigError, match="unknown objective"):
            campaign.select({"t3": 1.0})
        with pytest.raises(ConfigError, match="not all zero"):
            campaign.select([0.0, 0.0])
        source_a = int(campaign.trials().query("label == 'a'")["trial_id"].iloc[0])
        out = campaign.export(source_a, tmp_path / "export")
    exported = load_file(out / "model.safetensors")
    original = load_file(micro / "a" / "model.safetensors")
    assert exported.keys() == original.keys()
    assert all(torch.allclose(exported[k], original[k], atol=1e-6) for k in original)
    assert MergePlan.from_dict(json.loads((out / "merge_plan.json").read_text())).method == "task_arithmetic"


def test_failed_trials_are_stored_and_left_out_of_the_model(micro, tmp_path, worker_objectives):
    objectives = [
        {"kind": "answer_loglik", "data": str(micro / "t1.jsonl"), "name": "t1"},
        {"kind": "callable", "function": "campaign_worker:flaky", "name": "flaky"},
    ]
    # Enough initial trials that at least two complete ones reach the model
    # whichever merges the flaky objective happens to refuse.
    budget = {"trials": 12, "initial": 8, "batch_size": 2}
    config = config_for(micro, objectives=objectives, recipes=False, budget=budget)
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        with mock_optimize_context_manager():
            campaign.run()
        trials = campaign.trials()
        front = campaign.front()
    failed = trials[trials["status"] == "failed"]
    assert len(trials[trials["proposer"] != "reference"]) == 12
    assert (trials["proposer"] == "qlognehvi").any()
    assert len(failed) > 0 and len(failed) < len(trials)
    assert failed["error"].str.contains("flaky: RuntimeError: flaky objective failed").all()
    assert failed["flaky"].isna().all() and failed["t1"].notna().all()
    assert set(front["status"]) == {"complete"}


def test_a_proposer_that_raises_gives_one_sobol_batch_and_is_tried_again(micro, tmp_path, monkeypatch, caplog):
    from mmmo.search.proposers import QLogNEHVIProposer

    real_propose = QLogNEHVIProposer.propose
    calls = []

    def fails_once(self, *args, **kwargs):
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("covariance is not positive definite")
        return real_propose(self, *args, **kwargs)

    monkeypatch.setattr(QLogNEHVIProposer, "propose", fails_once)
    budget = {"trials": 6, "initial": 2, "batch_size": 2}
    with Campaign.create(tmp_path / "c.sqlite", config_for(micro, recipes=False, budget=budget)) as campaign:
        with mock_optimize_context_manager(), caplog.at_level("WARNING", logger="mmmo.campaign"):
            campaign.run()
        searched = campaign.trials().query("proposer != 'reference'")
    # The design's centre and pair (base and sources are three observations of the space already),
    # the failed round's two Sobol points, then qLogNEHVI again.
    assert searched["proposer"].tolist() == ["design"] * 2 + ["sobol"] * 2 + ["qlognehvi"] * 2
    assert (searched["status"] == "complete").all()
    assert len(calls) == 2
    assert "qlognehvi could not propose a batch (RuntimeError: covariance is not positive definite)" in caplog.text
    # The fallback points continue the design: no point is proposed twice.
    X = torch.tensor([[row[c] for c in searched.columns if c.startswith(("weight[", "density["))]
                      for _, row in searched.iterrows()])
    assert torch.cdist(X, X).add(torch.eye(len(X))).min() > 1e-6


def test_second_writer_is_refused_and_readers_are_not(micro, tmp_path):
    path = tmp_path / "c.sqlite"
    writer = Campaign.create(path, config_for(micro))
    with pytest.raises(CampaignLockedError, match=f"process {os.getpid()}"):
        Campaign.open(path)
    reader = Campaign.open(path, readonly=True)
    assert reader.trials().empty
    with pytest.raises(StoreError, match="read-only"):
        reader.run()
    writer.close()
    Campaign.open(path).close()
    reader.close()


def test_bad_configs_are_refused_before_any_work(micro, tmp_path):
    with pytest.raises(ConfigError, match=r"space\.granularity\.blocks"):
        space = {"method": "ties", "granularity": {"blocks": 8}}
        Campaign.create(tmp_path / "x.sqlite", config_for(micro, space=space))
    assert not (tmp_path / "x.sqlite").exists()
    with pytest.raises(ConfigError, match=r"space\.parameters\.density"):
        Campaign.create(tmp_path / "x.sqlite", config_for(micro, space={
            "method": "task_arithmetic", "parameters": {"weight": [0, 1], "density": [0.2, 1]}}))
    with pytest.raises(SourceError, match="base"):
        Campaign.create(tmp_path / "x.sqlite", config_for(micro, base=str(tmp_path / "nowhere")))
    with pytest.raises(ConfigError, match=r"models\.0\.name: 'base' is reserved"):
        Campaign.create(tmp_path / "x.sqlite", config_for(micro, models=[{"path": str(micro / "a"), "name": "base"}]))
    with pytest.raises(SourceError, match=r"models\.1\.path: .*gone does not exist"):
        Campaign.create(tmp_path / "x.sqlite", config_for(micro, models=[str(micro / "a"), str(micro / "gone")]))
    Campaign.create(tmp_path / "y.sqlite", config_for(micro)).close()
    with pytest.raises(StoreError, match="already exists"):
        Campaign.create(tmp_path / "y.sqlite", config_for(micro))


def test_user_reference_point_is_converted_to_maximisation(micro, tmp_path):
    objectives = [
        {"kind": "answer_loglik", "data": str(micro / "t1.jsonl"), "name": "t1"},
        {"kind": "answer_loglik", "data": str(micro / "t2.jsonl"), "name": "t2", "direction": "minimize"},
    ]
    config = config_for(micro, objectives=objectives, reference_point={"t2": 5.0}, budget={"trials": 1, "initial": 1})
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        assert campaign.reference_point() is None
        campaign.run()
        trials = campaign.trials()
        point = campaign.reference_point()
        anchors = torch.tensor(trials[trials["label"].isin(["base", "a", "b"])][["t1", "t2"]].to_numpy())
        assert point[1].item() == -5.0
        expected = infer_ref_point(to_maximization(anchors, ["maximize", "minimize"]))
        assert point[0].item() == pytest.approx(expected[0].item())
        assert campaign.directions == ("maximize", "minimize")


def test_run_n_trials_extends_and_record_external(micro, tmp_path):
    path = tmp_path / "c.sqlite"
    with Campaign.create(path, config_for(micro, proposer="random", budget={"trials": 3, "initial": 1})) as campaign:
        campaign.run(n_trials=2)
        assert (campaign.trials()["proposer"] != "reference").sum() == 2
        plan = MergePlan.uniform("dare_ties", ("a", "b"), weight=[0.5, 1.0], density=0.5, seed=4)
        measured = {"t1": Measurement(-1.0)}
        trial_id = campaign.record_external({"preference": [0.3, 0.7]}, measured, "pareto_merging", plan)
    with Campaign.open(path) as campaign:
        campaign.run()  # to the budget; the external trial does not count as searched by the loop
        trials = campaign.trials().set_index("trial_id")
    external = trials.loc[trial_id]
    assert external["status"] == "failed" and "t2: not measured" in external["error"]
    assert external["proposer"] == "pareto_merging" and external["weight[all][a]"] == 0.5
    assert external["preference"] == [0.3, 0.7] and trials["preference"].drop(trial_id).isna().all()
    assert list(trials["proposer"]).count("random") + list(trials["proposer"]).count("design") == 3


def test_killed_campaign_resumes_without_loss_or_duplicates(micro, tmp_path, worker_objectives):
    path = tmp_path / "c.sqlite"
    objectives = [
        {"kind": "answer_loglik", "data": str(micro / "t1.jsonl"), "name": "t1"},
        {"kind": "callable", "function": "campaign_worker:slow_head_sum", "name": "head"},
    ]
    config = config_for(
        micro,
        objectives=objectives,
        proposer="random",
        recipes=False,
        budget={"trials": 6, "initial": 2, "batch_size": 2},
    )
    Campaign.create(path, config).close()
    env = {**os.environ, "MMMO_TEST_PAUSE": "0.2", "OMP_NUM_THREADS": "1"}
    worker = subprocess.Popen([sys.executable, str(TESTS / "campaign_worker.py"), str(path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        reader = Campaign.open(path, readonly=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            records = reader._store.trials()
            searched_done = sum(r.finished and not r.is_reference for r in records)
            if searched_done >= 2 and any(r.status == "running" for r in records):
                break
            assert worker.poll() is None, worker.stderr.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("the worker did not reach its third searched trial in time")
        with pytest.raises(CampaignLockedError, match=f"process {worker.pid}"):
            Campaign.open(path)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    finally:
        if worker.poll() is None:
            worker.kill()
    before = {r.trial_id: r for r in reader._store.trials()}
    killed = [r.trial_id for r in before.values() if r.status == "running"]
    assert len(killed) == 1

    with Campaign.open(path) as campaign:
        campaign.run()
        after = {r.trial_id: r for r in campaign._store.trials()}
    reader.close()

    for trial_id, record in before.items():
        if record.finished:
            assert after[trial_id] == record  # untouched by the resume
    assert after[killed[0]].status == "complete" and after[killed[0]].attempts == 2
    searched = [r for r in after.values() if not r.is_reference]
    assert len(searched) == 6 and all(r.finished for r in searched)
    assert len({r.x for r in searched}) == 6  # nothing proposed twice
    assert sorted(r.label for r in after.values() if r.is_reference) == ["a", "b", "base"]


def test_committed_fixture_of_current_schema_opens():
    fixture = TESTS / "data" / "campaign_v1.sqlite"
    with Campaign.open(fixture, readonly=True) as campaign:
        trials = campaign.trials()
        assert campaign.objective_names == ("t1", "t2")
        assert len(trials) == 9 and set(trials["status"]) == {"complete"}
        assert trials["label"].tolist()[:7] == REFERENCES
        assert not campaign.front().empty
        assert campaign.hypervolume_history()["hypervolume"].is_monotonic_increasing


@pytest.mark.parametrize(("storage", "dtype"), [("resident", "float32"), ("mmap", "float32"), ("mmap", "bfloat16")])
def test_campaign_on_the_tiny_zoo(tiny_zoo, tmp_path, storage, dtype):
    tasks = list(tiny_zoo.expert_tasks[:2])
    config = {
        "base": str(tiny_zoo.base),
        "models": [{"path": str(tiny_zoo.experts[t]), "name": t} for t in tasks],
        "space": "ties_module",
        "objectives": [
            *({"kind": "exact_match", "data": str(tiny_zoo.tasks[t].test), "name": t, "limit": 16} for t in tasks),
            {"kind": "delta_l2", "name": "distance"},
        ],
        "budget": {"trials": 3, "initial": 2, "batch_size": 2},
        "device": "cpu",
        "storage": storage,
        "dtype": dtype,
    }
    with Campaign.create(tmp_path / "zoo.sqlite", config) as campaign:
        assert campaign._build_engine(with_objectives=False).merger.pool.storage == storage
        with mock_optimize_context_manager():
            campaign.run()
        trials = campaign.trials().set_index("label", drop=False)
        front = campaign.front()
        assert campaign.directions == ("maximize", "maximize", "minimize")
    assert len(trials) == 1 + len(tasks) + 4 + 3 and set(trials["status"]) == {"complete"}
    assert trials.loc["base", "distance"] == 0.0
    for task in tasks:  # each expert, applied as a reference, beats the base on its own task
        assert trials.loc[task, task] > trials.loc["base", task]
    assert "weight[attention][" + tasks[0] + "]" in trials.columns
    assert len(front) >= 1


def test_campaign_seed_draws_the_objectives_data_subsets(micro, tmp_path):
    """``seed`` seeds proposals, DARE masks and, through ``limit``, the examples scored."""
    from mmmo.objectives.data import read_answer_rows, subsample

    def examples(seed):
        objectives = [{"kind": "exact_match", "data": str(micro / "t1.jsonl"), "limit": 1, "name": "em"}]
        with Campaign.create(tmp_path / f"s{seed}.sqlite", config_for(micro, objectives=objectives, seed=seed)) as c:
            return c._build_engine().objectives[0].examples

    rows = read_answer_rows(micro / "t1.jsonl")
    other = next(seed for seed in range(1, 50) if subsample(rows, 1, seed) != subsample(rows, 1, 0))
    first, second = examples(0), examples(other)
    assert first == subsample(rows, 1, 0)
    assert second == subsample(rows, 1, other) != first

    # A file from before the seed drew subsets (no data_seed entry) keeps its examples: those of seed 0.
    path = tmp_path / f"s{other}.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM meta WHERE key = 'data_seed'")
    with Campaign.open(path) as campaign:
        assert campaign._build_engine().objectives[0].examples == first


@pytest.mark.parametrize("space", ["ties", "dare_ties_blocks4"])
def test_bfloat16_checkpoints_merge_in_their_own_dtype(micro, tmp_path, space):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    models = {}
    for name in ("base", "a", "b"):
        model = AutoModelForCausalLM.from_pretrained(micro / name, dtype=torch.bfloat16)
        model.save_pretrained(tmp_path / name)
        AutoTokenizer.from_pretrained(micro / name).save_pretrained(tmp_path / name)
        models[name] = tmp_path / name
    assert json.loads((tmp_path / "base" / "config.json").read_text())["dtype"] == "bfloat16"
    config = config_for(micro, base=str(models["base"]), space=space, budget={"trials": 2, "initial": 2})
    config["models"] = [{"path": str(models["a"]), "name": "a"}, {"path": str(models["b"]), "name": "b"}]
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:  # dtype: auto, the default
        campaign.run()
        trials = campaign.trials()
        searched = int(trials.query("proposer == 'design'")["trial_id"].iloc[0])
        out = campaign.export(searched, tmp_path / "export")
    assert (trials["status"] == "complete").all(), trials["error"].dropna().tolist()
    assert {t.dtype for t in load_file(out / "model.safetensors").values()} == {torch.bfloat16}


def test_a_checkpoint_dtype_mmmo_cannot_merge_in_is_refused_before_any_work(micro, tmp_path):
    import shutil

    shutil.copytree(micro / "base", tmp_path / "base")
    config_file = tmp_path / "base" / "config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "dtype": "int8"}))
    with pytest.raises(SourceError, match=r"config\.json.*'dtype' is 'int8'"):
        Campaign.create(tmp_path / "c.sqlite", config_for(micro, base=str(tmp_path / "base")))
    assert not (tmp_path / "c.sqlite").exists()
    Campaign.create(tmp_path / "c.sqlite", config_for(micro, base=str(tmp_path / "base"), dtype="float32")).close()


def test_a_base_with_tensors_the_layout_cannot_place_is_refused_before_any_work(micro, tmp_path):
    import shutil

    from safetensors.torch import save_file

    from mmmo.errors import LayoutError

    shutil.copytree(micro / "base", tmp_path / "base")
    weights = tmp_path / "base" / "model.safetensors"
    state = load_file(weights)
    save_file({**state, "model.layers.0.router.weight": torch.zeros(4, 16)}, str(weights), metadata={"format": "pt"})
    with pytest.raises(LayoutError, match=r"model\.layers\.0\.router\.weight"):
        Campaign.create(tmp_path / "c.sqlite", config_for(micro, base=str(tmp_path / "base")))
    assert not (tmp_path / "c.sqlite").exists()


def test_a_source_changed_on_disk_fails_later_trials_and_keeps_earlier_ones(micro, tmp_path):
    import shutil

    copy = tmp_path / "a"
    shutil.copytree(micro / "a", copy)
    config = config_for(micro, storage="mmap", budget={"trials": 2, "initial": 2, "batch_size": 1}, recipes=False)
    config["models"][0]["path"] = str(copy)
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        campaign.run(n_trials=1)
        done = campaign.trials()
        file = copy / "model.safetensors"
        os.truncate(file, file.stat().st_size // 2)
        campaign.run(n_trials=1)
        trials = campaign.trials()
    assert (done["status"] == "complete").all()
    kept = ["trial_id", "status", "label", "t1", "t2"]
    assert trials.iloc[: len(done)][kept].equals(done[kept])  # nothing stored was lost or changed
    failed = trials.iloc[len(done) :]
    assert list(failed["status"]) == ["failed"]
    assert "changed on disk" in failed["error"].iloc[0] and str(file) in failed["error"].iloc[0]


def test_a_space_too_large_for_the_proposer_is_refused_before_any_work(micro, tmp_path, monkeypatch):
    import mmmo.search.proposers as proposers

    monkeypatch.setitem(proposers.MAX_DIM, "qlognehvi", 16)
    space = {"method": "dare_ties", "granularity": "layer", "parameters": {"weight": [0, 1], "density": [0.1, 1]}}
    with pytest.raises(ConfigError, match=r"proposer: qlognehvi models at most 16 dimensions; the space has "
                                          r"24 dimensions \(layer granularity: 6 groups x 2 sources"):
        Campaign.create(tmp_path / "x.sqlite", config_for(micro, space=space))
    assert not (tmp_path / "x.sqlite").exists()
    Campaign.create(tmp_path / "x.sqlite", config_for(micro, space=space, proposer="saas")).close()


def test_per_layer_campaign_searches_the_method_as_a_category(micro, tmp_path):
    space = {"method": ["ties", "dare_ties"], "granularity": "layer x module",
             "parameters": {"weight": [0, 1], "density": {"low": 0.2, "high": 1.0, "granularity": "model"}}}
    config = config_for(micro, space=space, recipes=False, budget={"trials": 5, "initial": 2, "batch_size": 2})
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        assert campaign.space.dim == 1 + 10 * 2 + 2  # method, (embed, 4 x 2 modules, head) x 2 weights, 2 densities
        with mock_optimize_context_manager():
            campaign.run()
        trials = campaign.trials()
    # Base and both sources are points of the space (as TIES at density 1): the design is the centre alone.
    # the centre (the first of two categories) and the two sources merged by the first method
    assert trials.query("proposer == 'design'")["method"].tolist() == ["ties", "ties"]
    modelled = trials[trials["proposer"] == "qlognehvi"]
    assert len(modelled) == 3 and set(modelled["method"]) <= {"ties", "dare_ties"}
    with Campaign.open(tmp_path / "c.sqlite", readonly=True) as reopened:
        records = [r for r in reopened._store.trials() if r.proposer == "qlognehvi"]
    assert all(r.x[0] in (0.25, 0.75) for r in records)
    assert "weight[layer3.mlp][b]" in trials.columns and "density[all][a]" in trials.columns


def test_report_only_objectives_are_stored_and_shown_but_never_searched_on(micro, tmp_path, monkeypatch):
    from mmmo.search.proposers import QLogNEHVIProposer

    real_propose = QLogNEHVIProposer.propose
    seen_Y = []

    def spy(self, X, Y, *args, **kwargs):
        seen_Y.append(Y.shape[-1])
        return real_propose(self, X, Y, *args, **kwargs)

    monkeypatch.setattr(QLogNEHVIProposer, "propose", spy)
    # t1 again, minimised: searched on, it would trade off against t1 and put every trial on the front.
    mirror = {"kind": "answer_loglik", "data": str(micro / "t1.jsonl"), "name": "t1_low", "direction": "minimize",
              "report_only": True}
    objectives = config_for(micro)["objectives"] + [mirror]
    budget = {"trials": 4, "initial": 2, "batch_size": 2}
    with Campaign.create(tmp_path / "c.sqlite", config_for(micro, objectives=objectives, budget=budget)) as campaign:
        with mock_optimize_context_manager():
            campaign.run()
        assert campaign.objective_names == ("t1", "t2") and campaign.reported_names == ("t1_low",)
        assert campaign.directions == ("maximize", "maximize")
        trials = campaign.trials()
        front = campaign.front()
        ref_point = campaign.reference_point()
        history = campaign.hypervolume_history()

    assert seen_Y and set(seen_Y) == {2}
    assert len(ref_point) == 2
    assert (trials["status"] == "complete").all()
    assert trials["t1_low"].notna().all() and torch.allclose(
        torch.tensor(trials["t1_low"].to_numpy()), torch.tensor(trials["t1"].to_numpy()))
    assert "t1_low" in front.columns
    Y = torch.tensor(trials[["t1", "t2"]].to_numpy(dtype=float))
    assert sorted(front["trial_id"]) == sorted(trials["trial_id"][pareto_mask(Y).numpy()])
    assert hypervolume(Y, ref_point) == pytest.approx(history["hypervolume"].iloc[-1])


def test_an_all_report_only_config_is_refused(micro, tmp_path):
    objectives = [{**o, "report_only": True} for o in config_for(micro)["objectives"]]
    with pytest.raises(ConfigError, match="at least one must be searched on"):
        Campaign.create(tmp_path / "c.sqlite", config_for(micro, objectives=objectives))
    objectives[0]["report_only"] = False
    with pytest.raises(ConfigError, match="reference_point names report_only objectives"):
        Campaign.create(tmp_path / "d.sqlite", config_for(micro, objectives=objectives, reference_point={"t2": 0.0}))
    assert not (tmp_path / "c.sqlite").exists()


def test_coarse_to_fine_campaign_proposes_model_level_merges_first(micro, tmp_path):
    space = {"method": ["ties", "dare_ties"], "granularity": "layer",
             "parameters": {"weight": [0, 1], "density": [0.2, 1.0]}}
    config = config_for(micro, space=space, recipes=False, proposer="coarse_to_fine",
                        budget={"trials": 4, "initial": 2, "batch_size": 2})
    with Campaign.create(tmp_path / "c.sqlite", config) as campaign:
        with mock_optimize_context_manager():
            campaign.run()
        trials = campaign.trials()
    modelled = trials[trials["proposer"] == "coarse_to_fine"]
    assert len(modelled) == 2
    # The campaign hands the space's ties to the proposer: every layer of a source gets the source's values.
    for source in ("a", "b"):
        for param in ("weight", "density"):
            columns = [c for c in trials.columns if c.startswith(f"{param}[") and c.endswith(f"][{source}]")]
            assert len(columns) == 6  # embeddings, 4 layers, head
            assert (modelled[columns].nunique(axis=1) == 1).all()
