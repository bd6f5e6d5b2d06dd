"""Model Stock: move from the base toward the sources' average by a ratio set by their angle.

For one tensor (flattened, mergekit's default ``filter_wise: false``) with
``K >= 2`` task vectors, ``cos`` is the mean pairwise cosine of the
``delta_k`` and ``t = K cos / (1 + (K - 1) cos)``; the merge is
``theta_base + t * mean_k delta_k``. Where the denominator vanishes the base is
kept (``t = 0``), as in mergekit. Weights and densities play no part.

References:
    Jang et al., "Model Stock: All we need is just a few fine-tuned models",
    ECCV 2024.
"""

from __future__ import annotations

import torch

from mmmo.merge.base import STREAM_CHUNK, MergeMethod, TensorJob


def stock_ratio(job: TensorJob) -> float:
    """``t`` of one tensor from the pairwise cosines of its task vectors.

    The Gram matrix of the task vectors is summed chunk by chunk (float32
    products, float64 sums), so no whole-tensor copy is made in any dtype.
    """
    k = len(job.deltas)
    gram = torch.zeros(k, k, dtype=torch.float64, device=job.base.device)
    for start, stop in job.chunks(STREAM_CHUNK):
        rows = torch.stack([job.read(d, start, stop, f"delta{i}") for i, d in enumerate(job.deltas)])
        # rows: [K, m]; gram: [K, K]
        gram += (rows @ rows.T).double()
    norms = gram.diagonal().sqrt().tolist()
    gram = gram.tolist()
    cosines = []
    for i in range(k):
        for j in range(i + 1, k):
            product = max(norms[i] * norms[j], 1e-6)
            cosines.append(min(max(gram[i][j] / product, -1.0), 1.0))
    cos = sum(cosines) / len(cosines)
    denominator = 1 + (k - 1) * cos
    return 0.0 if abs(denominator) < 1e-6 else k * cos / denominator


def merge_model_stock(job: TensorJob) -> None:
    t = stock_ratio(job)
    scale = t / len(job.deltas)
    for start, stop in job.chunks(STREAM_CHUNK):
        out = job.accumulator(start, stop)
        out.copy_(job.base[start:stop])
        for delta in job.deltas:
            out.add_(delta[start:stop], alpha=scale)
        job.write(out, start, stop)


MODEL_STOCK = MergeMethod(
    name="model_stock",
    merge=merge_model_stock,
    mergekit_name="model_stock",
    min_sources=2,
)
