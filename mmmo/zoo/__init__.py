"""The demo zoo: a tiny Llama base and task experts, built offline on the CPU.

``build_zoo(ZooConfig())`` pretrains a character-level Llama model on generic
string primitives, fully fine-tunes one expert per synthetic exact-match task
from it, measures every model on every task, and caches the result as real HF
checkpoints (see :mod:`mmmo.zoo.build` for the folder layout).
"""

from mmmo.zoo.build import Zoo, ZooTask, build_zoo, zoo_dir
from mmmo.zoo.data import ZooSplits, make_splits
from mmmo.zoo.config import ZOO_FORMAT_VERSION, ZooConfig
from mmmo.zoo.tasks import TASKS, VOCABULARY, StringTask
from mmmo.zoo.tokenizer import build_tokenizer

__all__ = [
    "TASKS",
    "VOCABULARY",
    "ZOO_FORMAT_VERSION",
    "StringTask",
    "Zoo",
    "ZooConfig",
    "ZooSplits",
    "ZooTask",
    "build_tokenizer",
    "build_zoo",
    "make_splits",
    "zoo_dir",
]
