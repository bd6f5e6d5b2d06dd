"""Model references as users write them: a local folder, or a Hugging Face repo id.

``base`` and ``models`` name a local HF checkpoint or adapter folder, or a
repo id with an optional revision, as mergekit reads them:
``Qwen/Qwen2.5-7B`` or ``Qwen/Qwen2.5-7B@main``. A name that exists on disk
is a folder; otherwise a name shaped like ``owner/name[@revision]`` is a repo
id, resolved through ``huggingface_hub.snapshot_download`` in the user's own
HF cache (``HF_HUB_CACHE`` / ``HF_HOME``): from the cache alone when
``HF_HUB_OFFLINE`` is set or the hub cannot be reached, downloading the
files mmmo reads (configs, tokenizer files, safetensors weights) otherwise.

The config keeps the reference as written, so a campaign file stays valid on
any machine that can resolve it; each process resolves it when it loads models.

A checkpoint whose ``config.json`` asks for code of its own (``auto_map`` for
a model type transformers does not know) is refused unless the campaign sets
``trust_remote_code: true``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmmo.errors import SourceError

if TYPE_CHECKING:
    from mmmo.config import CampaignConfig

# owner/name, as the hub allows them, then an optional @revision (branch, tag or commit).
_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<revision>[\w./-]+))?$")

# What a checkpoint folder needs for mmmo to read it: configs, tokenizer files,
# safetensors weights. Other weight formats (.bin, .gguf, originals) are not downloaded.
DOWNLOAD_PATTERNS = ("*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.jinja")


@dataclass(frozen=True)
class HubId:
    """A Hugging Face model repo id and optional revision."""

    repo_id: str
    revision: str | None = None

    @classmethod
    def parse(cls, text: str) -> HubId | None:
        """The repo id written in ``text``, or ``None`` when it is not shaped like one."""
        match = _HUB_ID.match(text)
        if match is None or text.startswith((".", "~")) or ".." in text:
            return None
        return cls(match["repo"], match["revision"])

    def __str__(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")


def is_hub_id(reference: str | Path) -> bool:
    """Whether ``reference`` names no existing path and is shaped like ``owner/name[@revision]``."""
    text = str(reference)
    return not Path(text).expanduser().exists() and HubId.parse(text) is not None


def display_name(reference: str | Path) -> str:
    """A model's default name: its folder's name, or a repo id's name without the revision."""
    text = str(reference)
    hub_id = HubId.parse(text) if is_hub_id(text) else None
    return hub_id.repo_id.rsplit("/", 1)[-1] if hub_id is not None else Path(text).name


def hub_offline() -> bool:
    """Whether the user's environment forbids hub access now (read at call time)."""
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    return constants.HF_HUB_OFFLINE or (flag or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def hub_cache() -> Path:
    """The HF hub cache huggingface_hub reads and writes."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def resolve_model(reference: str | Path, field: str, trust_remote_code: bool = False) -> Path:
    """The local folder a model reference names, fetched into the HF cache if need be.

    Args:
        reference: A local path, or ``owner/name[@revision]``.
        field: The config field, for errors (``base``, ``models.1.path``).
        trust_remote_code: Allow checkpoints that need their own code.

    Raises:
        SourceError: A path that does not exist and is no repo id; a repo id
            neither cached nor reachable (naming the id and the cache
            searched); a checkpoint that needs remote code it was not allowed.
    """
    text = str(reference)
    path = Path(text).expanduser()
    if path.exists():
        local = path.resolve()
    else:
        hub_id = HubId.parse(text)
        if hub_id is None or path.is_absolute():
            raise SourceError(
                f"{field}: {text} does not exist, and is not a Hugging Face repo id ('owner/name[@revision]')"
            )
        local = _snapshot(hub_id, field, trust_remote_code)
    check_remote_code(local, field, trust_remote_code)
    return local


def _snapshot(hub_id: HubId, field: str, trust_remote_code: bool) -> Path:
    from huggingface_hub import snapshot_download

    offline = hub_offline()
    patterns = list(DOWNLOAD_PATTERNS) + (["*.py"] if trust_remote_code else [])
    try:
        folder = snapshot_download(
            hub_id.repo_id,
            revision=hub_id.revision,
            local_files_only=offline,
            allow_patterns=patterns,
        )
    except Exception as exc:  # noqa: BLE001 - any hub failure becomes one clear error
        how = "HF_HUB_OFFLINE is set" if offline else "the hub could not give it"
        raise SourceError(
            f"{field}: model {str(hub_id)!r} is not in the Hugging Face cache {hub_cache()} and {how} "
            f"({type(exc).__name__}: {exc}). Download it first (hf download "
            f"{hub_id.repo_id}), or give a local folder."
        ) from None
    return Path(folder)


def check_remote_code(folder: Path, field: str, trust_remote_code: bool) -> None:
    """Refuse a checkpoint that needs code of its own unless ``trust_remote_code``."""
    config_file = folder / "config.json"
    if trust_remote_code or not config_file.is_file():
        return  # adapter folders carry no model code; their base is checked itself
    try:
        config = json.loads(config_file.read_text())
    except ValueError:
        return  # a malformed config is reported by the loader, with its own message
    if not isinstance(config, dict) or not config.get("auto_map"):
        return
    from transformers import CONFIG_MAPPING

    if config.get("model_type") in CONFIG_MAPPING:
        return  # transformers has the architecture itself and will not run the repo's code
    raise SourceError(
        f"{field}: {folder} needs the model's own code (config.json has auto_map for model type "
        f"{config.get('model_type')!r}); set trust_remote_code: true in the campaign config to allow it"
    )


@dataclass(frozen=True)
class ResolvedModels:
    """A campaign's models as local folders: the base and each source by name."""

    base: Path
    sources: dict[str, Path]


def resolve_campaign_models(config: CampaignConfig) -> ResolvedModels:
    """Every model of ``config`` resolved (see :func:`resolve_model`); errors name the field."""
    trust = config.trust_remote_code
    base = resolve_model(config.base, "base", trust)
    sources = {
        model.display_name: resolve_model(model.path, f"models.{index}.path", trust)
        for index, model in enumerate(config.models)
    }
    return ResolvedModels(base, sources)


def with_local_models(config: CampaignConfig, models: ResolvedModels | None = None) -> CampaignConfig:
    """``config`` with hub ids replaced by their local folders (names kept), for checks that read files."""
    models = models or resolve_campaign_models(config)
    sources = [
        m.model_copy(update={"path": models.sources[m.display_name], "name": m.display_name}) for m in config.models
    ]
    return config.model_copy(update={"base": models.base, "models": sources})
