"""Settings of the demo zoo; their hash names the zoo's cache folder."""

from __future__ import annotations

from dataclasses import dataclass

from mmmo.errors import ConfigError
from mmmo.zoo.settings import ZooSettings
from mmmo.zoo.tasks import COMPOSITE_NAMES, PRIMITIVE_NAMES, VOCABULARY, get_task

#: Bumped whenever the same settings would build a different zoo (data
#: format, training loop, file layout), so old caches are not reused.
ZOO_FORMAT_VERSION = 2


@dataclass(frozen=True)
class ZooConfig(ZooSettings):
    """Everything that determines a zoo, bit for bit.

    The default is the demo zoo (benchmarks, ``mmmo demo``);
    :meth:`tiny` is the small configuration the tests build.

    Attributes:
        seed: Seeds data, initialisation and batch order.
        alphabet: Characters of task inputs (a subset of the tokenizer's vocabulary).
        min_len, max_len: Length range of task inputs.
        pretrain_tasks: Primitives the base is pretrained on.
        expert_tasks: Tasks that get an expert each (fine-tuned from the base).
        held_out_tasks: Tasks nobody is trained on (side effects of merging).
        hidden_size, num_layers, num_heads, intermediate_size: Llama shape.
        pretrain_examples: Pretraining examples per primitive.
        noise_fraction: Share of noise prompts in pretraining (unknown keyword,
            random answer).
        pretrain_steps, pretrain_lr: Base training.
        train_examples: Training examples per expert task.
        test_examples: Test examples per task (the accuracy in the manifest).
        finetune_steps, finetune_lr: Expert training (full fine-tuning).
        replay_fraction: Share of pretraining examples mixed into each expert's
            batches, so experts keep the base's skills and stay mergeable.
        batch_size: Examples per optimiser step.
        weight_decay: AdamW weight decay.
    """

    seed: int = 0
    alphabet: str = "abcdefghij"
    min_len: int = 5
    max_len: int = 5
    pretrain_tasks: tuple[str, ...] = ("copy", "next", "prev", "atbash", "rotate", "rotate_right")
    expert_tasks: tuple[str, ...] = ("shift2", "atbash_next", "atbash_prev")
    held_out_tasks: tuple[str, ...] = ("shift4",)
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    pretrain_examples: int = 1500
    noise_fraction: float = 0.1
    pretrain_steps: int = 800
    pretrain_lr: float = 2e-3
    train_examples: int = 1500
    test_examples: int = 200
    finetune_steps: int = 200
    finetune_lr: float = 3e-4
    replay_fraction: float = 0.5
    batch_size: int = 32
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        self._freeze_tuples("pretrain_tasks", "expert_tasks", "held_out_tasks")
        for name in self.pretrain_tasks:
            get_task(name, "pretrain_tasks")
            if name not in PRIMITIVE_NAMES:
                raise ConfigError(f"ZooConfig.pretrain_tasks: {name!r} is not a primitive")
        for field in ("expert_tasks", "held_out_tasks"):
            for name in getattr(self, field):
                get_task(name, field)
                if name not in COMPOSITE_NAMES:
                    raise ConfigError(
                        f"ZooConfig.{field}: {name!r} is a pretraining primitive; "
                        f"choose from {', '.join(COMPOSITE_NAMES)}"
                    )
        if len(self.expert_tasks) < 1:
            raise ConfigError("ZooConfig.expert_tasks: at least one expert task is needed")
        both = set(self.expert_tasks) & set(self.held_out_tasks)
        if both:
            raise ConfigError(f"ZooConfig.held_out_tasks: {sorted(both)} also in expert_tasks")
        if len(set(self.expert_tasks + self.held_out_tasks)) != len(
            self.expert_tasks + self.held_out_tasks
        ):
            raise ConfigError("ZooConfig.expert_tasks/held_out_tasks: a task is listed twice")
        bad = sorted(set(self.alphabet) - set(VOCABULARY)) or len(set(self.alphabet)) != len(
            self.alphabet
        )
        if bad or len(self.alphabet) < 3:
            raise ConfigError(
                f"ZooConfig.alphabet: {self.alphabet!r} must be >= 3 distinct characters "
                f"of {VOCABULARY!r}"
            )
        if not 1 <= self.min_len <= self.max_len:
            raise ConfigError(f"ZooConfig.min_len/max_len: need 1 <= {self.min_len} <= {self.max_len}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"ZooConfig.hidden_size: {self.hidden_size} is not divisible by "
                f"num_heads={self.num_heads}"
            )
        for name in ("noise_fraction", "replay_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"ZooConfig.{name}: must be in [0, 1), got {getattr(self, name)}")
        for name in (
            "num_layers",
            "intermediate_size",
            "pretrain_examples",
            "pretrain_steps",
            "train_examples",
            "test_examples",
            "finetune_steps",
            "batch_size",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"ZooConfig.{name}: must be >= 1, got {getattr(self, name)}")

    @classmethod
    def tiny(cls) -> ZooConfig:
        """The test configuration: character-map tasks only, a smaller model, short training."""
        return cls(
            alphabet="abcdefgh",
            min_len=5,
            max_len=5,
            pretrain_tasks=("copy", "next", "prev", "atbash"),
            expert_tasks=("shift2", "atbash_next", "shift4"),
            held_out_tasks=("atbash_prev",),
            hidden_size=64,
            num_layers=2,
            num_heads=4,
            intermediate_size=128,
            pretrain_examples=600,
            pretrain_steps=450,
            pretrain_lr=3e-3,
            train_examples=600,
            test_examples=64,
            finetune_steps=100,
            finetune_lr=1e-3,
            batch_size=32,
            seed=0,
            noise_fraction=0.1,
            replay_fraction=0.3,
            weight_decay=0.0,
        )

    @classmethod
    def deep(cls) -> ZooConfig:
        """The deep zoo: the demo zoo's tasks on an 8-layer model, for per-layer search.

        Eight decoder layers give a layer-wise space 8x the parameters of a
        block-free one, and experts whose task vectors differ layer by layer.
        The width is the demo zoo's; the base trains longer, since a deeper
        stack needs more steps to learn the primitives.
        """
        return cls(num_layers=8, pretrain_steps=1000)

    def cache_key(self) -> str:
        """A hash of every setting and :data:`ZOO_FORMAT_VERSION` (16 hex digits)."""
        return self._settings_hash(ZOO_FORMAT_VERSION)
