"""SEC's losses (weaksup.torch.seed_loss / expand_loss / constrain_loss) against NumPy
references written from SEC's layer definitions (kolesman/SEC, pylayers.py), gradchecks,
batches against single images, random inputs and bad arguments.

Tolerances: float64 results match the float64 references to 1e-10 relative. float32
results are compared with the float64 reference of the same (float32) inputs to 1e-5
relative: every term is a log of a float32 value (relative error ~6e-8 each) and the sums
run over at most a few thousand terms in float32, whose rounding stays below ~1e-6; 1e-5
leaves a margin while still catching a wrong term (a wrong weight or count moves the loss
by far more)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from torch.autograd import gradcheck  # noqa: E402

import weaksup.torch as wt  # noqa: E402
from weaksup.bench import crf as workloads  # noqa: E402
from weaksup.torch import _sec  # noqa: E402

F32_RTOL = 1e-5


def softmax_probs(n, c, h, w, seed=0, dtype=torch.float64, spread=2.0):
    rng = np.random.default_rng(seed)
    z = torch.from_numpy(rng.normal(0.0, spread, (n, c, h, w)))
    return torch.softmax(z, dim=1).to(dtype)


def random_cues(n, c, h, w, seed=0, density=0.15):
    return torch.from_numpy(np.random.default_rng(seed + 1000).random((n, c, h, w)) < density)


def random_labels(n, c, seed=0):
    labels = np.random.default_rng(seed + 2000).random((n, c)) < 0.5
    labels[:, 0] = True  # SEC's annotation layer lists the background too
    return torch.from_numpy(labels)


# ------------------------------------------------------------ NumPy references (SEC)


def seed_ref(probs, cues):
    """SeedLossLayer: -mean_n(sum(cues * log probs) / sum(cues)); an image without cues 0."""
    p, y = np.asarray(probs, np.float64), np.asarray(cues, np.float64)
    with np.errstate(divide="ignore"):
        terms = np.where(y > 0, y * np.log(p), 0.0)
    total, count = terms.sum(axis=(1, 2, 3)), y.sum(axis=(1, 2, 3))
    return -np.mean(np.where(count > 0, total / np.maximum(count, 1), 0.0))


def expand_ref(probs, labels, q_fg=0.996, q_bg=0.999):
    """ExpandLossLayer as SEC writes it: ascending sort, weights q^(n-1) .. q^0 (the
    largest value gets q^0), Z their sum; max pooling for absent classes; the labels'
    column 0 dropped. An empty class set adds 0 instead of SEC's 0/0."""
    p = np.asarray(probs, np.float64)
    n_img, c = p.shape[:2]
    n = p.shape[2] * p.shape[3]
    stat = np.asarray(labels, np.float64)[:, 1:] > 0.5
    fg, bg = p[:, 1:].reshape(n_img, c - 1, n), p[:, 0].reshape(n_img, n)
    w_fg = q_fg ** np.arange(n - 1, -1, -1, dtype=np.float64)
    w_bg = q_bg ** np.arange(n - 1, -1, -1, dtype=np.float64)
    mean_fg = (np.sort(fg, axis=2) * w_fg).sum(axis=2) / w_fg.sum()
    mean_bg = (np.sort(bg, axis=1) * w_bg).sum(axis=1) / w_bg.sum()
    max_fg = fg.max(axis=2)

    def per_image(terms, mask):
        k = mask.sum(axis=1)
        return np.where(k > 0, np.where(mask, terms, 0.0).sum(axis=1) / np.maximum(k, 1), 0.0)

    loss_1 = -np.mean(per_image(np.log(mean_fg), stat))
    loss_2 = -np.mean(per_image(np.log(1.0 - max_fg), ~stat))
    loss_3 = -np.mean(np.log(mean_bg))
    return loss_1 + loss_2 + loss_3


def kl_ref(probs, q):
    """ConstrainLossLayer: mean over (N, H, W) of sum_c Q log(Q / probs)."""
    p, q = np.asarray(probs, np.float64), np.asarray(q, np.float64)
    return np.mean(np.sum(q * np.log(q / p), axis=1))


def rank_pool_ref(x, q):
    """G of each row: descending sort, weights q^j (0^0 = 1)."""
    s = -np.sort(-np.asarray(x, np.float64), axis=-1)
    w = np.power(q, np.arange(s.shape[-1], dtype=np.float64))
    return (s * w).sum(-1) / w.sum()


def sec_images(n, h, w, seed=0):
    return torch.from_numpy(np.stack([workloads.synthetic_image(h, w, seed=seed + b) for b in range(n)]))


def chw(images):
    """(N, H, W, 3) -> the (N, 3, H, W) view weaksup.torch takes."""
    return images.permute(0, 3, 1, 2)


def sec_crf_probs(images, c, seed=0):
    p = np.stack([workloads.soft_segmentation(im, c, seed=seed + b) for b, im in enumerate(images.numpy())])
    p = np.moveaxis(p, -1, 1).astype(np.float64)
    return torch.from_numpy(p / p.sum(axis=1, keepdims=True))  # sums to 1 in float64 too


# ------------------------------------------------------------ seed loss


def test_seed_loss_matches_sec():
    p, cues = softmax_probs(3, 5, 7, 6), random_cues(3, 5, 7, 6)
    assert wt.seed_loss(p, cues).item() == pytest.approx(seed_ref(p, cues), rel=1e-10)
    p32 = p.float()
    out = wt.seed_loss(p32, cues)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(seed_ref(p32, cues), rel=F32_RTOL)


@pytest.mark.parametrize("kind", [torch.bool, torch.uint8, torch.int64, torch.float32, torch.float64])
def test_seed_loss_cue_dtypes(kind):
    p, cues = softmax_probs(2, 4, 5, 5), random_cues(2, 4, 5, 5)
    assert wt.seed_loss(p, cues.to(kind)).item() == pytest.approx(seed_ref(p, cues), rel=1e-12)


def test_seed_loss_gradient_is_the_stated_one():
    p, cues = softmax_probs(3, 4, 5, 6).requires_grad_(), random_cues(3, 4, 5, 6)
    cues[1] = False  # an image without cues: no gradient, no NaN
    wt.seed_loss(p, cues).backward()
    count = cues.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1).double()
    expected = -cues.double() / (p.detach() * count * 3)
    torch.testing.assert_close(p.grad, expected, rtol=1e-12, atol=0)
    assert (p.grad[1] == 0).all()


def test_seed_loss_image_without_cues_adds_zero():
    p, cues = softmax_probs(2, 3, 4, 4), random_cues(2, 3, 4, 4)
    cues[0] = False
    p[0, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0], dtype=p.dtype)  # a 0 off the cues is fine too
    loss = wt.seed_loss(p, cues)
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(wt.seed_loss(p[1:], cues[1:]).item() / 2, rel=1e-12)
    assert wt.seed_loss(p, torch.zeros_like(cues)).item() == 0.0


def test_seed_loss_gradcheck():
    p, cues = softmax_probs(2, 3, 4, 5).requires_grad_(), random_cues(2, 3, 4, 5, density=0.3)
    # eps 1e-9 keeps the perturbed probs within float64's 1e-8 sum tolerance.
    assert gradcheck(lambda x: wt.seed_loss(x, cues), (p,), eps=1e-9, atol=1e-6)
    z = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda y: wt.seed_loss(torch.softmax(y, 1), cues), (z,))


# ------------------------------------------------------------ rank pooling


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("q", [0.0, 0.5, 0.996, 0.999, 1.0])
def test_rank_pooling_matches_the_definition(dtype, q):
    x = softmax_probs(2, 3, 9, 7, seed=3, dtype=dtype)
    got = wt.rank_pooling(x, q)
    assert got.dtype == dtype and got.shape == (2, 3)
    ref = rank_pool_ref(x.reshape(2, 3, -1), q)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12 if dtype == torch.float64 else 1e-6)
    if q == 0.0:
        torch.testing.assert_close(got, x.amax(dim=(2, 3)))
    if q == 1.0:
        torch.testing.assert_close(got, x.mean(dim=(2, 3)))


@pytest.mark.parametrize("q", [0.0, 0.3, 0.996, 1.0])
def test_rank_pooling_kernel_equals_torch_sort_path(q):
    x = softmax_probs(3, 4, 6, 5, seed=4).reshape(12, 30).requires_grad_()
    rows = torch.full((12,), q, dtype=torch.float64)
    g = torch.randn(12, dtype=torch.float64)
    outs, grads = [], []
    for torch_sort in (False, True):
        x.grad = None
        out = _sec._RankPool.apply(x, rows, 0, torch_sort)
        out.backward(g)
        outs.append(out.detach())
        grads.append(x.grad.clone())
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-13, atol=0)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-13, atol=1e-300)


def test_rank_pooling_gradient_and_ties():
    x = torch.tensor([[[[0.2, 0.9], [0.5, 0.1]]]], dtype=torch.float64, requires_grad=True)
    wt.rank_pooling(x, 0.5).sum().backward()
    z = 1 + 0.5 + 0.25 + 0.125  # ranks: 0.9 -> 0, 0.5 -> 1, 0.2 -> 2, 0.1 -> 3
    expected = torch.tensor([[[[0.25, 1.0], [0.5, 0.125]]]], dtype=torch.float64) / z
    torch.testing.assert_close(x.grad, expected, rtol=1e-15, atol=0)
    # Ties: equal values, any order, the same G; the weights still sum to 1.
    flat = torch.full((1, 1, 3, 3), 0.25, dtype=torch.float64, requires_grad=True)
    out = wt.rank_pooling(flat, 0.9)
    assert out.item() == pytest.approx(0.25, rel=1e-15)
    out.backward()
    assert flat.grad.sum().item() == pytest.approx(1.0, rel=1e-14)
    assert sorted(flat.grad.flatten().tolist(), reverse=True) == pytest.approx(
        (0.9 ** np.arange(9) / (0.9 ** np.arange(9)).sum()).tolist(), rel=1e-14)


def test_rank_pooling_per_map_decay_and_gradcheck():
    x = softmax_probs(2, 3, 4, 4, seed=5).requires_grad_()
    q = torch.tensor([[0.0, 0.5, 1.0], [0.9, 0.2, 0.7]], dtype=torch.float64)
    got = wt.rank_pooling(x, q)
    for i in range(2):
        for c in range(3):
            assert got[i, c].item() == pytest.approx(rank_pool_ref(x[i, c].detach().flatten(), q[i, c].item()), 1e-12)
    assert gradcheck(lambda v: wt.rank_pooling(v, q), (x,))
    assert gradcheck(lambda v: _sec._RankPool.apply(v.reshape(6, 16), q.flatten(), 0, True), (x,))


# ------------------------------------------------------------ expand loss


def test_expand_loss_matches_sec_at_secs_size():
    p = softmax_probs(4, 21, 41, 41, seed=6)
    labels = random_labels(4, 21, seed=6)
    assert wt.expand_loss(p, labels).item() == pytest.approx(expand_ref(p, labels), rel=1e-10)
    p32 = p.float()
    out = wt.expand_loss(p32, labels)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(expand_ref(p32, labels), rel=F32_RTOL)


def test_expand_loss_decays_and_label_conventions():
    p, labels = softmax_probs(3, 5, 6, 7, seed=7), random_labels(3, 5, seed=7)
    ref = expand_ref(p, labels, q_fg=0.9, q_bg=0.8)
    assert wt.expand_loss(p, labels, q_fg=0.9, q_bg=0.8).item() == pytest.approx(ref, rel=1e-10)
    for kind in (torch.uint8, torch.int32, torch.float32, torch.float64):
        assert wt.expand_loss(p, labels.to(kind)).item() == pytest.approx(expand_ref(p, labels), rel=1e-12)
    # Column 0 (background) is ignored, as SEC's layer drops it.
    no_bg = labels.clone()
    no_bg[:, 0] = False
    assert wt.expand_loss(p, no_bg).item() == wt.expand_loss(p, labels).item()


def test_expand_loss_empty_class_sets_add_zero():
    p = softmax_probs(2, 4, 5, 5, seed=8)
    none = torch.tensor([[1, 0, 0, 0], [1, 1, 1, 1]])  # nothing present / nothing absent
    loss = wt.expand_loss(p, none)
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(expand_ref(p, none), rel=1e-10)
    g = wt.rank_pooling(p, torch.tensor([[0.999, 0.0, 0.0, 0.0], [0.999, 0.996, 0.996, 0.996]], dtype=torch.float64))
    image_0 = torch.log1p(-g[0, 1:]).mean() + torch.log(g[0, 0])  # absent classes and background
    image_1 = torch.log(g[1, 1:]).mean() + torch.log(g[1, 0])  # present classes and background
    by_hand = -(image_0 + image_1) / 2
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-12)


def test_expand_loss_gradcheck():
    p, labels = softmax_probs(2, 4, 5, 4, seed=9).requires_grad_(), random_labels(2, 4, seed=9)
    assert gradcheck(lambda x: wt.expand_loss(x, labels), (p,), eps=1e-9, atol=1e-6)
    z = torch.randn(2, 4, 5, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda y: wt.expand_loss(torch.softmax(y, 1), labels, q_fg=0.7, q_bg=0.8), (z,))


# ------------------------------------------------------------ constrain loss


def test_constrain_target_is_secs_crf():
    dcrf = pytest.importorskip("pydensecrf.densecrf")
    images = sec_images(3, 41, 41, seed=11)
    p = sec_crf_probs(images, 21, seed=11)
    q = wt.constrain_target(p, chw(images))
    assert q.dtype == torch.float64 and q.shape == p.shape
    assert float(q.min()) >= 1e-4 / (1 + 21 * 1e-4)  # raised to 1e-4, then renormalized
    torch.testing.assert_close(q.sum(dim=1), torch.ones(3, 41, 41, dtype=torch.float64))
    for b in range(3):  # SEC's krahenbuhl2013.CRF, built with pydensecrf2
        d = dcrf.DenseCRF2D(41, 41, 21)
        d.setUnaryEnergy(np.ascontiguousarray(-np.log(p[b].numpy().reshape(21, -1)), dtype=np.float32))
        d.addPairwiseGaussian(sxy=3 / 12.0, compat=3)
        d.addPairwiseBilateral(sxy=80 / 12.0, srgb=13, rgbim=np.ascontiguousarray(images[b].numpy()), compat=10)
        peer = np.maximum(np.array(d.inference(10)), 1e-4)
        peer /= peer.sum(axis=0, keepdims=True)
        assert np.abs(q[b].numpy().reshape(21, -1) - peer).max() <= 1e-3


def test_constrain_loss_matches_sec_and_its_gradient():
    images = sec_images(2, 12, 10, seed=12)
    p = sec_crf_probs(images, 4, seed=12).requires_grad_()
    q = wt.constrain_target(p, chw(images))
    loss = wt.constrain_loss(p, chw(images))
    assert loss.item() == pytest.approx(kl_ref(p.detach(), q), rel=1e-10)
    loss.backward()
    torch.testing.assert_close(p.grad, -q / (p.detach() * 2 * 12 * 10), rtol=1e-12, atol=0)
    p32 = p.detach().float()
    out = wt.constrain_loss(p32, chw(images))
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(kl_ref(p32, wt.constrain_target(p32, chw(images))), rel=F32_RTOL)
    # Float images of the same colours: the same target.
    torch.testing.assert_close(wt.constrain_target(p, chw(images).double()), q, rtol=0, atol=0)


def test_constrain_kl_gradcheck():
    images = sec_images(2, 6, 5, seed=13)
    p = sec_crf_probs(images, 3, seed=13).requires_grad_()
    q = wt.constrain_target(p, chw(images))
    assert gradcheck(lambda x: wt.kl_to_target(x, q), (p,), eps=1e-9, atol=1e-6)
    z = torch.randn(2, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda y: wt.kl_to_target(torch.softmax(y, 1), q), (z,))


def test_constrain_loss_parameters_reach_the_crf():
    images = sec_images(1, 9, 9, seed=14)
    p = sec_crf_probs(images, 3, seed=14)
    base = wt.constrain_target(p, chw(images))
    for kw in ({"maxiter": 2}, {"scale_factor": 3.0}, {"color_factor": 40.0}, {"min_prob": 0.1}):
        assert not torch.equal(wt.constrain_target(p, chw(images), **kw), base), kw
    assert float(wt.constrain_target(p, chw(images), min_prob=0.1).min()) >= 0.1 / (1 + 3 * 0.1)


# ------------------------------------------------------------ batches, layouts, random inputs


def test_batch_is_the_mean_of_single_images():
    images = sec_images(3, 8, 7, seed=15)
    p = sec_crf_probs(images, 5, seed=15)
    cues, labels = random_cues(3, 5, 8, 7, seed=15), random_labels(3, 5, seed=15)
    cases = [
        (lambda s: wt.seed_loss(p[s], cues[s])),
        (lambda s: wt.expand_loss(p[s], labels[s])),
        (lambda s: wt.constrain_loss(p[s], chw(images[s]))),
    ]
    for loss in cases:
        whole = loss(slice(None)).item()
        singles = [loss(slice(i, i + 1)).item() for i in range(3)]
        assert whole == pytest.approx(np.mean(singles), rel=1e-12)


def test_any_strides():
    p = softmax_probs(2, 4, 6, 5, seed=16)
    strided = p.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)  # channels-last
    assert not strided.is_contiguous()
    cues, labels = random_cues(2, 4, 6, 5, seed=16), random_labels(2, 4, seed=16)
    images = sec_images(2, 6, 5, seed=16)
    assert wt.seed_loss(strided, cues.transpose(2, 3).contiguous().transpose(2, 3)).item() == \
        pytest.approx(wt.seed_loss(p, cues).item(), rel=1e-14)
    assert wt.expand_loss(strided, labels.t().contiguous().t()).item() == \
        pytest.approx(wt.expand_loss(p, labels).item(), rel=1e-14)
    contiguous = chw(images).contiguous()  # a copy; chw(images) itself is a strided view
    assert wt.constrain_loss(strided, chw(images)).item() == \
        pytest.approx(wt.constrain_loss(p, contiguous).item(), rel=1e-12)
    x = strided.clone().requires_grad_()
    wt.expand_loss(x, labels).backward()
    y = p.clone().requires_grad_()
    wt.expand_loss(y, labels).backward()
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-14, atol=0)


@given(st.integers(1, 3), st.integers(2, 5), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**31),
       st.sampled_from([0.0, 0.5, 0.996, 1.0]), st.sampled_from([0.0, 0.999, 1.0]))
def test_random_inputs_match_the_references(n, c, h, w, seed, q_fg, q_bg):
    p = softmax_probs(n, c, h, w, seed=seed, spread=1.0)
    cues = random_cues(n, c, h, w, seed=seed, density=0.3)
    labels = random_labels(n, c, seed=seed)
    assert wt.seed_loss(p, cues).item() == pytest.approx(seed_ref(p, cues), rel=1e-10, abs=1e-300)
    assert wt.expand_loss(p, labels, q_fg, q_bg).item() == pytest.approx(expand_ref(p, labels, q_fg, q_bg), rel=1e-10)
    g = wt.rank_pooling(p, q_fg)
    np.testing.assert_allclose(g.numpy(), rank_pool_ref(p.reshape(n, c, -1), q_fg), rtol=1e-12)


# ------------------------------------------------------------ bad inputs


def test_bad_shapes_name_the_argument():
    p, cues, labels = softmax_probs(2, 3, 4, 4), random_cues(2, 3, 4, 4), random_labels(2, 3)
    images = sec_images(2, 4, 4)
    with pytest.raises(ValueError, match="cues"):
        wt.seed_loss(p, cues[:, :2])
    with pytest.raises(ValueError, match="cues must have 4 axes"):
        wt.seed_loss(p, cues[0])
    with pytest.raises(ValueError, match="probs must have 4 axes"):
        wt.seed_loss(p[0], cues[0])
    with pytest.raises(ValueError, match="image_labels"):
        wt.expand_loss(p, labels[:, 1:])  # (N, C - 1): SEC's labels keep the background column
    with pytest.raises(ValueError, match="image_labels must have 2 axes"):
        wt.expand_loss(p, labels[:, :, None])
    with pytest.raises(ValueError, match="background and at least one foreground"):
        wt.expand_loss(torch.ones(2, 1, 4, 4, dtype=torch.float64), labels[:, :1])
    with pytest.raises(ValueError, match="images"):
        wt.constrain_loss(p, chw(images)[:, :, :3])
    with pytest.raises(ValueError, match="images"):
        wt.constrain_loss(p, chw(images)[:, :2])
    with pytest.raises(ValueError, match="images"):
        wt.constrain_loss(p, images)  # channels last: (N, H, W, 3) is not the layout
    with pytest.raises(ValueError, match="images must have 4 axes"):
        wt.constrain_loss(p, chw(images)[0])


def test_not_probabilities():
    cues, labels, images = random_cues(1, 3, 4, 4), random_labels(1, 3), sec_images(1, 4, 4)
    raw = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    half = softmax_probs(1, 3, 4, 4) * 0.5
    for bad in (raw, half, torch.full((1, 3, 4, 4), float("nan"), dtype=torch.float64)):
        with pytest.raises(ValueError, match="probs"):
            wt.seed_loss(bad, cues)
        with pytest.raises(ValueError, match="probs"):
            wt.expand_loss(bad, labels)
        with pytest.raises(ValueError, match="probs"):
            wt.constrain_loss(bad, chw(images))


def test_gradients_refused_on_targets():
    p = softmax_probs(1, 3, 4, 4)
    with pytest.raises(ValueError, match="cues requires grad"):
        wt.seed_loss(p, random_cues(1, 3, 4, 4).double().requires_grad_())
    with pytest.raises(ValueError, match="image_labels requires grad"):
        wt.expand_loss(p, random_labels(1, 3).double().requires_grad_())
    with pytest.raises(ValueError, match="images requires grad"):
        wt.constrain_loss(p, chw(sec_images(1, 4, 4)).double().requires_grad_())
    with pytest.raises(ValueError, match="target requires grad"):
        wt.kl_to_target(p, p.clone().requires_grad_())
    with pytest.raises(ValueError, match="q requires grad"):
        wt.rank_pooling(p, torch.tensor(0.5, requires_grad=True))


def test_bad_dtypes_and_values():
    p, cues, labels = softmax_probs(1, 3, 4, 4), random_cues(1, 3, 4, 4), random_labels(1, 3)
    images = sec_images(1, 4, 4)
    with pytest.raises(TypeError, match="probs must be float32 or float64"):
        wt.seed_loss(p.half(), cues)
    with pytest.raises(TypeError, match="probs must be a torch tensor"):
        wt.seed_loss(p.numpy(), cues)
    with pytest.raises(TypeError, match="cues must be a torch tensor"):
        wt.seed_loss(p, cues.numpy())
    with pytest.raises(TypeError, match="cues must be bool, integer or float"):
        wt.seed_loss(p, cues.to(torch.complex64))
    with pytest.raises(ValueError, match="cues must hold only 0 and 1"):
        wt.seed_loss(p, cues.long() * 2)
    with pytest.raises(ValueError, match="image_labels must hold only 0 and 1"):
        wt.expand_loss(p, labels.double() * 0.7)
    with pytest.raises(TypeError, match="images must be uint8 or float"):
        wt.constrain_loss(p, chw(images).int())
    with pytest.raises(TypeError, match="the tensors must have one dtype"):
        wt.kl_to_target(p, p.float())
    for name in ("q_fg", "q_bg", "q_absent"):
        with pytest.raises(ValueError, match=name):
            wt.expand_loss(p, labels, **{name: 1.5})
    with pytest.raises(ValueError, match="min_prob"):
        wt.constrain_loss(p, chw(images), min_prob=0.5)  # above 1 / C: no distribution left
    with pytest.raises(ValueError, match="q must be in"):
        wt.rank_pooling(p, torch.tensor([0.5, 2.0, 0.1]))


def test_different_devices_are_refused():
    # The meta device stands in for a second device (no GPU needed).
    p = softmax_probs(1, 3, 4, 4)
    with pytest.raises(ValueError, match="probs on cpu, cues on meta"):
        wt.seed_loss(p, torch.empty(1, 3, 4, 4, dtype=torch.bool, device="meta"))
    with pytest.raises(ValueError, match="probs on cpu, image_labels on meta"):
        wt.expand_loss(p, torch.empty(1, 3, device="meta"))
    with pytest.raises(ValueError, match="probs on cpu, images on meta"):
        wt.constrain_loss(p, torch.empty(1, 3, 4, 4, dtype=torch.uint8, device="meta"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    p, cues, labels = softmax_probs(2, 5, 9, 8, seed=17), random_cues(2, 5, 9, 8), random_labels(2, 5)
    for loss, target in ((wt.seed_loss, cues), (wt.expand_loss, labels)):
        x = p.clone().requires_grad_()
        y = p.cuda().requires_grad_()
        a, b = loss(x, target), loss(y, target.cuda())
        assert b.device.type == "cuda"
        a.backward()
        b.backward()
        assert b.item() == pytest.approx(a.item(), rel=1e-12)
        torch.testing.assert_close(y.grad.cpu(), x.grad, rtol=1e-12, atol=1e-300)
