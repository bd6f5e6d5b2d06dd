import pytest
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.models import SingleTaskGP
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning

from mmmo.search.proposers import partitioning
from mmmo.search.proposers.partitioning import NativeNondominatedPartitioning, nondominated_cells
from mmmo.search.proposers.qlognehvi import NativeQLogNEHVI

pytestmark = pytest.mark.skipif(not partitioning.kernel.available(), reason="no C compiler")


def front(P, m, seed, ties=False):
    Y = torch.rand(P, m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (Y * 4).round() / 4 if ties else Y


CASES = [(m, P, ties) for m in (3, 4) for P in (0, 1, 2, 7, 30) for ties in (False, True)]


@pytest.mark.parametrize(("m", "P", "ties"), CASES)
def test_cells_are_botorchs_cells_in_botorchs_order(m, P, ties):
    Y = front(P, m, seed=P + 10 * m, ties=ties)
    ref = torch.full((m,), 0.1, dtype=torch.float64)  # some points fall short of it
    theirs = FastNondominatedPartitioning(ref, Y)
    ours = NativeNondominatedPartitioning(ref, Y)
    assert torch.equal(ours.get_hypercell_bounds(), theirs.get_hypercell_bounds())
    torch.testing.assert_close(ours.compute_hypervolume(), theirs.compute_hypervolume())


def test_cells_partition_the_non_dominated_space():
    # Independent of BoTorch: inside the box [ref, ideal], a point lies in exactly one
    # cell when no front point dominates it, and in none when one does.
    m = 3
    Y = front(12, m, seed=3)
    ref = torch.zeros(m, dtype=torch.float64)
    cells = NativeNondominatedPartitioning(ref, Y).get_hypercell_bounds()
    probes = torch.rand(4000, m, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    inside = ((probes[:, None] >= cells[0]) & (probes[:, None] < cells[1])).all(-1).sum(-1)
    dominated = (Y[None] >= probes[:, None]).all(-1).any(-1)
    assert torch.equal(inside, (~dominated).long())


def test_more_cells_than_the_first_guess_are_returned_whole():
    # Five objectives and 40 points need far more than 2P + 8 cells: the call retries.
    Y = front(40, 5, seed=1)
    ref = torch.zeros(5, dtype=torch.float64)
    cells = nondominated_cells(-Y, -ref)
    assert cells.shape[1] > 2 * 40 + 8
    assert torch.equal(cells, FastNondominatedPartitioning(ref, Y).get_hypercell_bounds())


def test_without_the_kernel_botorchs_own_loop_runs(monkeypatch):
    Y, ref = front(9, 3, seed=2), torch.zeros(3, dtype=torch.float64)
    monkeypatch.setattr(partitioning.kernel, "available", lambda: False)
    monkeypatch.setattr(partitioning, "nondominated_cells", lambda *a: pytest.fail("kernel called"))
    ours = NativeNondominatedPartitioning(ref, Y)
    assert torch.equal(ours.get_hypercell_bounds(), FastNondominatedPartitioning(ref, Y).get_hypercell_bounds())


def test_native_qlognehvi_equals_botorchs_with_and_without_pending_points():
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(15, 2, generator=generator, dtype=torch.float64)
    Y = torch.stack([X.sum(-1), (1 - X).prod(-1), torch.sin(3 * X[:, 0])], dim=-1)
    model = SingleTaskGP(X, Y).eval()
    test_X = torch.rand(6, 1, 2, generator=generator, dtype=torch.float64)
    pending = torch.rand(2, 2, generator=generator, dtype=torch.float64)

    def acquisition(cls, X_pending=None):
        return cls(
            model=model,
            ref_point=Y.min(0).values - 0.1,
            X_baseline=X,
            sampler=SobolQMCNormalSampler(torch.Size([16]), seed=1),
            X_pending=X_pending,
            cache_root=True,
        )

    for X_pending in (None, pending):
        ours = acquisition(NativeQLogNEHVI, X_pending)
        theirs = acquisition(qLogNoisyExpectedHypervolumeImprovement, X_pending)
        assert ours.p_class is NativeNondominatedPartitioning
        torch.testing.assert_close(ours.cell_lower_bounds, theirs.cell_lower_bounds)
        torch.testing.assert_close(ours(test_X), theirs(test_X))
