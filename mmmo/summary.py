"""Text summaries of a campaign for the command line: the front table, its JSON, the status.

Plain functions of a :class:`~mmmo.campaign.Campaign` returning strings or
JSON-ready lists, so scripts and tests use them without a subprocess.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmmo.progress import format_value

if TYPE_CHECKING:
    import pandas as pd

    from mmmo.campaign import Campaign

__all__ = ["front_records", "front_table", "status_text"]


def front_table(campaign: Campaign, front: pd.DataFrame | None = None, all_fidelities: bool = False) -> str:
    """The front as a fixed-width text table, best on the first objective first.

    With one value per source (model granularity) the weights and densities
    are shown in source order; finer spaces are left to ``--json`` and the plots.
    A multi-fidelity campaign's table has a ``fidelity`` column; its front
    holds full-fidelity members only unless ``all_fidelities``.
    """
    front = campaign.front(all_fidelities=all_fidelities) if front is None else front
    if front.empty:
        return "(the front is empty: no complete trial yet)"
    objectives = list(campaign.objective_names)
    sources = list(campaign.config.model_names)
    first, directions = objectives[0], _directions(campaign)
    rows = front.sort_values(first, ascending=directions[first] == "minimize", kind="stable")
    table = rows[["trial_id"]].rename(columns={"trial_id": "trial"})
    table["model"] = [_origin(row) for _, row in rows.iterrows()]
    if len(campaign.config.space.methods) > 1:  # the search chooses the method too
        table["method"] = rows["method"]
    for name in objectives:
        table[name] = rows[name].map(lambda v: f"{float(v):.3f}")
    if campaign.config.fidelity is not None or all_fidelities:
        table["fidelity"] = rows["fidelity"].map(lambda v: f"{float(v):.2f}")
    for name in campaign.reported_names:  # scored, not searched on: shown, marked
        table[f"{name} (reported)"] = rows[name].map(lambda v: f"{float(v):.3f}")
    footer = "parameters of each member: mmmo front PATH --json"
    for kind, header in (("weight", "weights"), ("density", "densities")):
        columns = [f"{kind}[all][{source}]" for source in sources]
        if all(c in rows.columns for c in columns):
            table[header] = [
                " ".join("-" if v != v else f"{v:.2f}" for v in values)
                for values in rows[columns].astype(float).itertuples(index=False)
            ]
            footer = f"weights and densities in source order: {', '.join(sources)}"
    return table.to_string(index=False) + "\n" + footer


def _origin(row: pd.Series) -> str:
    label = row.get("label")
    if isinstance(label, str) and label:
        return label
    return f"{row.get('origin')} ({row.get('proposer')})"


def _directions(campaign: Campaign) -> dict[str, str]:
    from mmmo.plots import campaign_directions

    return campaign_directions(campaign)


def front_records(campaign: Campaign, all_fidelities: bool = False) -> list[dict[str, Any]]:
    """The front for scripts: ``[{"id", "label", "method", "params", "objectives", "fidelity"}, ...]``."""
    from mmmo.plots.data import parameter_columns

    front = campaign.front(all_fidelities=all_fidelities)
    parameters = parameter_columns(front)
    records = []
    for _, row in front.iterrows():
        label = row.get("label")
        records.append({
            "id": int(row["trial_id"]),
            "label": label if isinstance(label, str) and label else None,
            "method": row.get("method"),
            "params": {p: float(row[p]) for p in parameters if row[p] == row[p] and row[p] is not None},
            "objectives": {o: float(row[o]) for o in campaign.objective_names},
            "fidelity": float(row["fidelity"]),
            "reported": {o: float(row[o]) for o in campaign.reported_names},
        })
    return records


def status_text(campaign: Campaign, path: Path) -> str:
    """Progress, best value per objective, hypervolume and failures, as text."""
    trials = campaign.trials()
    # bool masks even with no rows: an empty object Series would index columns, not rows.
    origin = trials["origin"].astype(str)
    searched, references = trials[(origin == "searched").astype(bool)], trials[(origin == "reference").astype(bool)]
    external = int((origin == "external").sum())
    counts = searched["status"].value_counts()
    budget = campaign.config.budget.trials
    lines = [
        f"campaign: {campaign.config.name} ({path})",
        f"trials:   {counts.get('complete', 0)} complete of {budget} budgeted, "
        f"{counts.get('failed', 0)} failed, {counts.get('running', 0)} running, "
        f"{counts.get('pending', 0)} pending; {len(references)} reference trials"
        + (f", {external} recorded from outside the search" if external else ""),
    ]
    history = campaign.hypervolume_history()
    if len(history):
        lines.append(f"hypervolume: {format_value(float(history['hypervolume'].iloc[-1]))}")
    lines.append("best per objective:")
    complete = trials[trials["status"] == "complete"]
    for name, direction in _directions(campaign).items():
        values = complete[name].astype(float).dropna()
        if values.empty:
            lines.append(f"  {name} ({direction}): -")
            continue
        best = values.idxmax() if direction == "maximize" else values.idxmin()
        row = complete.loc[best]
        lines.append(f"  {name} ({direction}): {values[best]:.4g}  trial #{int(row['trial_id'])} "
                     f"[{_origin(row)}]")
    failed = trials[trials["status"] == "failed"]
    lines.append(f"failures: {len(failed)}")
    for _, row in failed.tail(5).iterrows():
        error = str(row.get("error") or "").strip().splitlines()
        lines.append(f"  #{int(row['trial_id'])}: {error[-1] if error else '(no message)'}")
    return "\n".join(lines)
