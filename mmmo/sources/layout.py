"""Where every tensor of a model sits: its decoder layer (or none) and its role.

A :class:`TensorLayout` is built once, from the base model's HF config and the
names of its merged tensors, and is the one place that reads meaning into a
tensor name. Plan grouping (:class:`mmmo.plan.TensorGrouping`), the search
space's granularities, the layer count and the exporter's mergekit filters all
ask it.

Names are read by module path, not by family: a tensor inside the decoder's
layer list (``<prefix>.<i>.<module>...``, where ``<prefix>`` ends in ``layers``
or ``h``) belongs to layer ``i``, and the layer's child module gives its role
(``self_attn``/``attn``/``attention`` -> attention, ``mlp``/``feed_forward`` ->
MLP, any ``*norm*``/``ln_*`` -> norm). Outside the layers, the module holding
the tensor gives it (``embed_tokens``/``wte``/``wpe``/``embed_in`` ->
embedding, ``lm_head``/``embed_out`` -> head, ``norm``/``ln_f``/
``final_layer_norm`` -> norm). This covers Llama, Mistral, Qwen2, Qwen3,
Gemma 2/3, Phi-3, GPT-NeoX and GPT-2 (each tested on a tiny model); a model
with a tensor these rules cannot place (a mixture-of-experts router outside
the MLP, a vision tower) is refused, naming those tensors.

Norms inside the attention module (Qwen3's and Gemma 3's ``q_norm`` and
``k_norm``) have role ``attention``: they belong to that module, as mergekit's
``self_attn`` filter would treat them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from mmmo.errors import LayoutError

__all__ = ["ROLES", "Role", "TensorLayout", "TensorPlace", "layout_of_checkpoint", "layout_of_module"]

Role = Literal["embedding", "attention", "mlp", "norm", "head", "other"]
ROLES: tuple[Role, ...] = ("embedding", "attention", "mlp", "norm", "head", "other")

# A tensor inside the decoder's layer list: "<prefix>.<index>.<module>.<...>".
_IN_LAYER = re.compile(r"^(?P<prefix>(?:[\w.]*?\.)?(?:layers|h))\.(?P<index>\d+)\.(?P<module>\w+)(?:\.|$)")
_ATTENTION = frozenset({"self_attn", "attn", "attention", "self_attention", "crossattention", "cross_attn"})
_MLP = frozenset({"mlp", "feed_forward"})
_EMBEDDING = frozenset({"embed_tokens", "wte", "wpe", "embed_in", "word_embeddings", "embed_positions"})
_HEAD = frozenset({"lm_head", "embed_out"})
# Most unplaceable tensors an error names.
_SHOWN = 8


def _is_norm(module: str) -> bool:
    return "norm" in module or module.startswith("ln_")


@dataclass(frozen=True)
class TensorPlace:
    """One tensor's place in the model.

    Attributes:
        layer: Index of its decoder layer, or None outside the layers
            (embeddings, final norm, head).
        role: ``embedding``, ``attention``, ``mlp``, ``norm``, ``head`` or ``other``.
    """

    layer: int | None
    role: Role


@dataclass(frozen=True)
class TensorLayout:
    """Every merged tensor's place, for one base model.

    Attributes:
        model_type: The HF config's ``model_type`` (for messages).
        num_layers: Number of decoder layers.
        layer_prefix: Module path of the layer list (``model.layers``,
            ``transformer.h``, ``gpt_neox.layers``); layer ``i``'s tensors start
            with ``f"{layer_prefix}.{i}."``.
        places: Tensor name -> its :class:`TensorPlace`, in checkpoint order.
    """

    model_type: str
    num_layers: int
    layer_prefix: str
    places: Mapping[str, TensorPlace]

    def __post_init__(self) -> None:
        object.__setattr__(self, "places", MappingProxyType(dict(self.places)))

    @classmethod
    def build(cls, config: Any, names: Iterable[str]) -> TensorLayout:
        """The layout of a model with HF config ``config`` and merged tensors ``names``.

        Raises:
            LayoutError: Some tensors cannot be placed (named in the message), or
                the layer list does not hold the config's number of layers.
        """
        names = list(names)
        model_type = str(getattr(config, "model_type", "") or "unknown")
        prefixes: dict[str, set[int]] = {}
        for name in names:
            match = _IN_LAYER.match(name)
            if match is not None:
                prefixes.setdefault(match["prefix"], set()).add(int(match["index"]))
        num_layers = _config_layers(config)
        # The decoder's layer list is the longest one (a vision tower's may exist beside it).
        prefix = max(prefixes, key=lambda p: (len(prefixes[p]), -len(p)), default=None)
        if prefix is None:
            raise LayoutError(f"{model_type}: no tensor lies in a decoder layer list (names like 'model.layers.0.*')")
        if num_layers is None:
            num_layers = max(prefixes[prefix]) + 1
        missing = sorted(set(range(num_layers)) - prefixes[prefix])
        if missing or max(prefixes[prefix]) >= num_layers:
            raise LayoutError(
                f"{model_type}: the config has {num_layers} decoder layers, but {prefix!r} holds "
                f"layers {sorted(prefixes[prefix])}"
            )
        places: dict[str, TensorPlace] = {}
        unplaced: list[str] = []
        for name in names:
            place = _place(name, prefix)
            if place is None:
                unplaced.append(name)
            else:
                places[name] = place
        if unplaced:
            shown = ", ".join(repr(n) for n in unplaced[:_SHOWN])
            more = f" and {len(unplaced) - _SHOWN} more" if len(unplaced) > _SHOWN else ""
            raise LayoutError(
                f"{model_type}: cannot place {len(unplaced)} tensor(s) in a decoder layer or a role "
                f"(embedding, attention, mlp, norm, head): {shown}{more}"
            )
        return cls(model_type=model_type, num_layers=num_layers, layer_prefix=prefix, places=places)

    def place(self, name: str) -> TensorPlace:
        """The place of tensor ``name``; a :class:`LayoutError` for a name the layout lacks."""
        try:
            return self.places[name]
        except KeyError:
            raise LayoutError(f"tensor {name!r} is not in the {self.model_type} layout") from None

    def layer_start(self, layer: int) -> str:
        """The name prefix shared by every tensor of decoder layer ``layer`` (``model.layers.3.``)."""
        return f"{self.layer_prefix}.{layer}."

    @property
    def roles(self) -> frozenset[Role]:
        """The roles some tensor has."""
        return frozenset(p.role for p in self.places.values())


def _config_layers(config: Any) -> int | None:
    for cfg in (config, getattr(config, "text_config", None)):
        layers = getattr(cfg, "num_hidden_layers", None)
        if layers is not None:
            return int(layers)
    return None


def _place(name: str, layer_prefix: str) -> TensorPlace | None:
    start = layer_prefix + "."
    if name.startswith(start):
        match = _IN_LAYER.match(name)
        if match is None or match["prefix"] != layer_prefix:
            return None
        layer, module = int(match["index"]), match["module"]
        if module in _ATTENTION:
            return TensorPlace(layer, "attention")
        if module in _MLP:
            return TensorPlace(layer, "mlp")
        if _is_norm(module):
            return TensorPlace(layer, "norm")
        return None
    parts = name.split(".")
    # The module holding the tensor: "model.embed_tokens.weight" -> "embed_tokens".
    holder = parts[-2] if len(parts) >= 2 else ""
    if holder in _EMBEDDING:
        return TensorPlace(None, "embedding")
    if holder in _HEAD:
        return TensorPlace(None, "head")
    if _is_norm(holder) and _IN_LAYER.match(name) is None:
        return TensorPlace(None, "norm")
    return None


def layout_of_module(model: Any) -> TensorLayout:
    """The layout of an in-memory transformers model (its float parameters, tied ones once)."""
    names = [n for n, p in model.named_parameters(remove_duplicate=True) if p.is_floating_point()]
    return TensorLayout.build(model.config, names)


def layout_of_checkpoint(path: Path, trust_remote_code: bool = False) -> TensorLayout:
    """The layout of a local HF checkpoint, read from its config and safetensors headers only.

    No tensor is loaded, so this is cheap for any model size.

    Raises:
        SourceError: The directory, its config or weights cannot be read.
        LayoutError: Its tensors cannot be laid out.
    """
    from transformers import AutoConfig

    from mmmo.errors import SourceError
    from mmmo.sources.checkpoint import weight_files
    from mmmo.sources.mapped import header_entries

    path = Path(path)
    try:
        config = AutoConfig.from_pretrained(str(path), local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as error:
        raise SourceError(f"base: cannot read an HF config from {str(path)!r}: {error}") from None
    entries = header_entries(list(weight_files(path, "base")), "base")
    return TensorLayout.build(config, [name for name, entry in entries.items() if entry.dtype.is_floating_point])

