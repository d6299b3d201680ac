"""Edit distances straight from torch tensors (decoded tokens in a training loop): CPU tensors
are read without a copy and give the NumPy results; other devices and bad dtypes are rejected."""
import os
import sys

import numpy as np
import pytest

import seqloss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import levenshtein_dp  # noqa: E402

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.int16])
def test_padded_tensors_with_tensor_lengths(dtype):
    g = torch.Generator().manual_seed(0)
    h = torch.randint(0, 6, (40, 30), generator=g).to(dtype)
    r = torch.randint(0, 6, (40, 25), generator=g).to(dtype)
    hl = torch.randint(0, 31, (40,), generator=g)
    rl = torch.randint(0, 26, (40,), generator=g).to(torch.int32)
    got = seqloss.edit_distance_batch(h, r, hyp_lengths=hl, ref_lengths=rl)
    want = seqloss.edit_distance_batch(h.numpy(), r.numpy(), hyp_lengths=hl.numpy(),
                                       ref_lengths=rl.numpy())
    assert np.array_equal(got, want)
    for i in range(40):
        assert got[i] == levenshtein_dp(h[i, :hl[i]].tolist(), r[i, :rl[i]].tolist())
    norm = seqloss.edit_distance_batch(h, r, hyp_lengths=hl, ref_lengths=rl, normalize=True)
    assert np.array_equal(norm, seqloss.edit_distance_batch(
        h.numpy(), r.numpy(), hyp_lengths=hl.numpy(), ref_lengths=rl.numpy(), normalize=True))


def test_lists_of_1d_tensors_and_single_pairs():
    g = torch.Generator().manual_seed(1)
    hyps = [torch.randint(-3, 4, (int(n),), generator=g) for n in torch.randint(0, 70, (25,))]
    refs = [torch.randint(-3, 4, (int(n),), generator=g) for n in torch.randint(0, 70, (25,))]
    got = seqloss.edit_distance_batch(hyps, refs)
    assert got.tolist() == [levenshtein_dp(a.tolist(), b.tolist()) for a, b in zip(hyps, refs)]
    # mixed with lists and arrays in one batch
    mixed_h = [hyps[0], hyps[1].tolist(), hyps[2].numpy()]
    assert seqloss.edit_distance_batch(mixed_h, refs[:3]).tolist() == got[:3].tolist()
    assert seqloss.edit_distance(hyps[3], refs[3]) == got[3]
    assert seqloss.edit_distance(torch.tensor([2**40, -1]), torch.tensor([2**40, -2])) == 1


def test_other_devices_and_bad_dtypes_rejected():
    class FakeCudaTensor:
        device = type("Device", (), {"type": "cuda", "__str__": lambda self: "cuda:0"})()

        def __array__(self, dtype=None, copy=None):
            raise AssertionError("must not be read")

    with pytest.raises(ValueError, match="CPU library: expected hypotheses on the CPU, but got "
                                         "a tensor on cuda:0"):
        seqloss.edit_distance_batch(FakeCudaTensor(), torch.zeros((1, 2), dtype=torch.int64))
    with pytest.raises(ValueError, match=r"expected references\[1\] on the CPU"):
        seqloss.edit_distance_batch([[1], [2]], [[1], FakeCudaTensor()])
    with pytest.raises(ValueError, match="expected b on the CPU"):
        seqloss.edit_distance([1, 2], FakeCudaTensor())
    with pytest.raises(TypeError, match="Expected hypotheses to have an integer dtype, but got "
                                        "dtype float32"):
        seqloss.edit_distance_batch(torch.zeros((2, 3)), torch.zeros((2, 3), dtype=torch.int64))
    with pytest.raises(TypeError, match="Expected hyp_lengths to have an integer dtype"):
        seqloss.edit_distance_batch(torch.zeros((2, 3), dtype=torch.int64),
                                    torch.zeros((2, 3), dtype=torch.int64),
                                    hyp_lengths=torch.tensor([1.0, 2.0]))
