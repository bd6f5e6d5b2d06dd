import json
import os
import subprocess
import sys
from pathlib import Path

import mmmo.cache

REPO = Path(__file__).resolve().parent.parent


def test_cache_dir_honours_override(tmp_path, monkeypatch):
    monkeypatch.setenv("MMMO_CACHE", str(tmp_path / "c"))
    assert mmmo.cache.cache_dir() == tmp_path / "c"
    assert (tmp_path / "c").is_dir()


def _python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_import_leaves_the_environment_alone(tmp_path):
    """A notebook that imports mmmo, and uses its Campaign, keeps its own HF settings:
    nothing in ``os.environ`` is added, changed or removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "TORCH_EXTENSIONS"))}
    env.update(PYTHONPATH=str(REPO), MMMO_CACHE=str(tmp_path / "cache"), HF_HOME=str(tmp_path / "my_hf"))
    # Some libraries below mmmo set variables when imported (scikit-learn sets
    # KMP_DUPLICATE_LIB_OK); they are imported first, so only mmmo is measured.
    code = (
        "import json, os, importlib.util\n"
        "for name in ('sklearn', 'torch', 'transformers', 'botorch'):\n"
        "    if importlib.util.find_spec(name): __import__(name)\n"
        "before = dict(os.environ)\n"
        "import mmmo\n"
        "after_import = dict(os.environ)\n"
        "from mmmo import Campaign\n"
        "import mmmo.objectives.lm_eval_objective, mmmo.cli\n"
        "after_use = dict(os.environ)\n"
        "changed = lambda a: sorted(k for k in set(before) | set(a) if before.get(k) != a.get(k))\n"
        "print(json.dumps([changed(after_import), changed(after_use)]))\n"
    )
    assert json.loads(_python(code, env)) == [[], []]


def test_import_is_light_and_campaign_is_lazy():
    """``import mmmo`` pulls in no torch; ``mmmo.Campaign`` is the real class on first use."""
    code = (
        "import sys, mmmo\n"
        "light = 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "from mmmo import Campaign\n"
        "import mmmo.campaign\n"
        "print(light, Campaign is mmmo.campaign.Campaign, mmmo.Campaign is Campaign and callable(mmmo.Campaign.open))\n"
    )
    assert _python(code, {**os.environ, "PYTHONPATH": str(REPO)}) == "True True True"


def test_cli_sets_defaults_for_its_own_process_only(monkeypatch):
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    monkeypatch.delenv("TRANSFORMERS_NO_ADVISORY_WARNINGS", raising=False)
    mmmo.cache.configure_cli_environment()
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"  # the user's setting is kept
    assert os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] == "1"
    assert "HF_HUB_OFFLINE" not in mmmo.cache.CLI_DEFAULTS and "HF_HOME" not in mmmo.cache.CLI_DEFAULTS
