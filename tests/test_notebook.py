"""The quickstart notebook runs top to bottom on the tiny zoo with a small budget."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


def _set_parameters(notebook, **values) -> None:
    """Replace the cell tagged ``parameters`` (as papermill does)."""
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    cells[0].source = "\n".join(f"{name} = {value!r}" for name, value in values.items())


@pytest.mark.slow
def test_quickstart_runs_top_to_bottom(tiny_zoo, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    _set_parameters(notebook, ZOO="tiny", TRIALS=3, WORKDIR=str(tmp_path / "run"))
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # front, hypervolume, parameters
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "config.json" in text and "merge_plan.json" in text  # the export listing
    assert "-> " in text and "expected" in text  # the exported model generated an answer
    assert (tmp_path / "run" / "plots" / "front.png").is_file()
