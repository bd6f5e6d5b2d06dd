from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from mmmo.summary import front_records, front_table, status_text

SOURCES = ("math", "code")


class FakeCampaign:
    """What the summaries read of a campaign, over a hand-made trials table."""

    objective_names = ("math_em", "size")
    reported_names = ()
    directions = ("maximize", "minimize")
    config = SimpleNamespace(name="t", model_names=SOURCES, budget=SimpleNamespace(trials=5),
                             space=SimpleNamespace(methods=("dare_ties",)), fidelity=None)

    def __init__(self) -> None:
        def row(trial_id, label, proposer, status, scores, weights, error=None):
            out = {"trial_id": trial_id, "status": status, "proposer": proposer, "label": label,
                   "origin": "reference" if label else "searched",
                   "method": "task_arithmetic" if label else "dare_ties"}
            for source, weight in zip(SOURCES, weights):
                out[f"weight[all][{source}]"] = weight
                out[f"density[all][{source}]"] = 1.0 if label else 0.5
            out["math_em"], out["size"] = scores
            return out | {"error": error, "fidelity": 1.0}

        self.table = pd.DataFrame([
            row(1, "base", "reference", "complete", (0.1, 1.0), (0.0, 0.0)),
            row(2, "math", "reference", "complete", (0.8, 3.0), (1.0, 0.0)),
            row(3, None, "sobol", "complete", (0.6, 2.0), (0.7, 0.2)),
            row(4, None, "sobol", "complete", (0.5, 2.5), (0.3, 0.3)),  # dominated by 3
            row(5, None, "qlognehvi", "failed", (np.nan, np.nan), (0.9, 0.9),
                error="Traceback (most recent call last):\nValueError: NaN in logits"),
        ])

    def trials(self) -> pd.DataFrame:
        return self.table

    def front(self, all_fidelities: bool = False) -> pd.DataFrame:
        front = self.table[self.table["trial_id"].isin([1, 2, 3])].copy()
        front["is_reference"] = front["proposer"] == "reference"
        return front

    def hypervolume_history(self) -> pd.DataFrame:
        return pd.DataFrame({"n_searched": [0, 0, 1, 2, 3], "hypervolume": [0.0, 0.2, 0.3, 0.3, 0.3]})


def test_front_table_sorts_best_first_and_lists_parameters_in_source_order():
    lines = front_table(FakeCampaign()).splitlines()
    assert lines[0].split() == ["trial", "model", "math_em", "size", "weights", "densities"]
    assert [line.split()[0] for line in lines[1:-1]] == ["2", "3", "1"]
    assert lines[2].split() == ["3", "searched", "(sobol)", "0.600", "2.000", "0.70", "0.20", "0.50", "0.50"]
    assert lines[-1] == "weights and densities in source order: math, code"


def test_front_table_names_the_method_only_when_the_search_chose_among_several():
    campaign = FakeCampaign()
    assert "method" not in front_table(campaign).splitlines()[0]
    campaign.config = SimpleNamespace(**{**vars(campaign.config),
                                         "space": SimpleNamespace(methods=("ties", "dare_ties"))})
    lines = front_table(campaign).splitlines()
    assert lines[0].split()[:3] == ["trial", "model", "method"]
    assert lines[1].split()[2] == "task_arithmetic" and lines[2].split()[3] == "dare_ties"


def test_front_records_are_json_ready():
    records = json.loads(json.dumps(front_records(FakeCampaign())))
    assert [r["id"] for r in records] == [1, 2, 3]
    searched = records[2]
    assert searched["label"] is None and searched["method"] == "dare_ties"
    assert searched["objectives"] == {"math_em": 0.6, "size": 2.0}
    assert searched["params"] == {"weight[all][math]": 0.7, "density[all][math]": 0.5,
                                  "weight[all][code]": 0.2, "density[all][code]": 0.5}
    assert searched["fidelity"] == 1.0


def test_a_multi_fidelity_front_table_has_a_fidelity_column():
    campaign = FakeCampaign()
    campaign.config = SimpleNamespace(**{**vars(campaign.config), "fidelity": SimpleNamespace(schedule=[0.25, 1.0])})
    lines = front_table(campaign).splitlines()
    assert lines[0].split()[:5] == ["trial", "model", "math_em", "size", "fidelity"]
    assert lines[1].split()[4] == "1.00"


def test_status_text_reports_progress_best_hypervolume_and_last_error_line():
    text = status_text(FakeCampaign(), Path("t.db"))
    assert "trials:   2 complete of 5 budgeted, 1 failed, 0 running, 0 pending; 2 reference trials" in text
    assert "hypervolume: 0.3" in text
    assert "  math_em (maximize): 0.8  trial #2 [math]" in text
    assert "  size (minimize): 1  trial #1 [base]" in text
    assert text.endswith("failures: 1\n  #5: ValueError: NaN in logits")
