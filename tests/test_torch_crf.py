"""weaksup.torch's dense-CRF ops: the lattice filter they share (its transpose, its agreement
with pydensecrf's kernel), rloss's dense-CRF loss and the differentiable mean-field, each
against a reference written here from the papers' equations with the kernel as a dense
matrix, gradients by gradcheck, batches against single images, and bad arguments."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

import weaksup  # noqa: E402
from weaksup import _core  # noqa: E402
from weaksup.torch import crf_mean_field, dense_crf_loss  # noqa: E402
from weaksup.torch._crf import _Lattices  # noqa: E402

NONE, SYMMETRIC = 0, 3


def images_of(n, h, w, seed=0, channels=3):
    """Integer-valued colours (so that pydensecrf's uint8 image holds the same values)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, h, w), generator=g).to(torch.float32)


def softmax_of(n, k, h, w, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(3 * torch.randn(n, k, h, w, generator=g, dtype=dtype), dim=1)


def pixels(images):
    n, c = images.shape[:2]
    return np.ascontiguousarray(images.permute(0, 2, 3, 1).reshape(n, -1, c).numpy(), dtype=np.float32)


def kernel_batch(spatial, sigma, pix, color_sigma, normalization, threads=1):
    """The CPU lattices (a _core.KernelBatch) that the ops build for these features."""
    points = None if pix is None else torch.from_numpy(pix)
    return _Lattices(spatial, sigma, points, color_sigma, normalization, threads, torch.device("cpu")).kernels


def bilateral(images, sigma_xy, sigma_rgb, normalization=NONE):
    h, w = images.shape[2:]
    return kernel_batch((h, w), [sigma_xy, sigma_xy], pixels(images), [sigma_rgb] * images.shape[1], normalization, 1)


def matrix(kernels, b, n, transpose=False):
    """The kernel of image b as a dense (n, n) float64 matrix: K applied to the identity."""
    eye = np.eye(n)[None]
    batch = np.repeat(eye, kernels.kernels, axis=0) if kernels.kernels > 1 else eye
    return kernels.filter(np.ascontiguousarray(batch), transpose, 1)[b if kernels.kernels > 1 else 0]


# ------------------------------------------------------------------ the lattice filter


@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), sigma_xy=st.floats(0.3, 20), sigma_rgb=st.floats(1, 200),
       seed=st.integers(0, 1000), normalization=st.sampled_from([0, 1, 2, 3]))
def test_transposed_filter_is_the_exact_transpose(h, w, sigma_xy, sigma_rgb, seed, normalization):
    images = images_of(1, h, w, seed)
    kernels = bilateral(images, sigma_xy, sigma_rgb, normalization)
    k, kt = matrix(kernels, 0, h * w), matrix(kernels, 0, h * w, transpose=True)
    np.testing.assert_allclose(kt, k.T, rtol=1e-12, atol=1e-14)


def test_the_lattice_filter_is_not_symmetric_so_the_transpose_matters():
    kernels = bilateral(images_of(1, 8, 9), 2.0, 30.0)
    k = matrix(kernels, 0, 72)
    assert np.abs(k - k.T).max() > 1e-3 * np.abs(k).max()


def test_float32_filter_agrees_with_the_float64_one():
    images = images_of(2, 9, 11)
    kernels = bilateral(images, 3.0, 20.0, SYMMETRIC)
    v = np.random.default_rng(1).random((2, 99, 4))
    out64 = kernels.filter(v, False, 1)
    out32 = kernels.filter(v.astype(np.float32), False, 1)
    np.testing.assert_allclose(out32, out64, rtol=2e-5, atol=2e-5 * np.abs(out64).max())


def test_filter_matches_pydensecrf_kernel():
    """pydensecrf2 (independent): one mean-field step recovers K v: with two
    labels, unary (0, -a) and a Potts bilateral term of weight 1 without normalization,
    log(Q1[1] / Q1[0]) = a + K (q0[1] - q0[0]) (densecrf's update)."""
    dcrf = pytest.importorskip("pydensecrf.densecrf")
    h, w, sxy, srgb = 13, 17, 4.0, 25.0
    images = images_of(1, h, w, seed=3)
    rng = np.random.default_rng(0)
    v = rng.uniform(-0.9, 0.9, h * w)
    a = 2 * np.arctanh(v)  # q0[1] - q0[0] = tanh(a / 2) = v
    unary = np.stack([np.zeros(h * w), -a]).astype(np.float32)
    d = dcrf.DenseCRF2D(w, h, 2)
    d.setUnaryEnergy(np.ascontiguousarray(unary))
    rgb = np.ascontiguousarray(images[0].permute(1, 2, 0).numpy().astype(np.uint8))
    d.addPairwiseBilateral(sxy=sxy, srgb=srgb, rgbim=rgb, compat=1.0, kernel=dcrf.DIAG_KERNEL,
                           normalization=dcrf.NO_NORMALIZATION)
    q1 = np.array(d.inference(1), dtype=np.float64)
    theirs = np.log(q1[1] / q1[0]) - a
    ours = bilateral(images, sxy, srgb).filter(v[None, :, None].copy(), False, 1)[0, :, 0]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-4 * np.abs(theirs).max())


# ------------------------------------------------------------------ rloss's dense-CRF loss


def rloss_reference(probs, images, sigma_rgb, sigma_xy, scale, rois=None):
    """-sum_k S_k^T W S_k / N as rloss computes it, with W each image's kernel as a matrix."""
    imgs, segs = images.to(probs.dtype), probs
    mask = None if rois is None else rois.to(probs.dtype)
    if scale != 1:
        imgs = F.interpolate(imgs, scale_factor=scale)
        segs = F.interpolate(probs, scale_factor=scale, mode="bilinear", align_corners=False)
        mask = None if mask is None else F.interpolate(mask[:, None], scale_factor=scale)[:, 0]
    if mask is not None:
        segs = segs * mask[:, None]
    n, k, h, w = segs.shape
    kernels = bilateral(imgs, sigma_xy * scale, sigma_rgb)
    total = 0.0
    for b in range(n):
        wm = matrix(kernels, b, h * w)
        s = segs[b].reshape(k, -1).detach().numpy().astype(np.float64)
        total -= sum(s[c] @ wm @ s[c] for c in range(k))
    return total / n


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.75])
def test_dense_crf_loss_equals_the_reference(scale):
    probs = softmax_of(3, 4, 12, 10, seed=2)
    images = images_of(3, 12, 10, seed=5)
    rois = (torch.rand(3, 12, 10, generator=torch.Generator().manual_seed(1)) > 0.2).to(torch.float32)
    for r in (None, rois):
        ours = float(dense_crf_loss(probs, images, 15.0, 5.0, scale, r))
        ref = rloss_reference(probs, images, 15.0, 5.0, scale, r)
        assert ours == pytest.approx(ref, rel=1e-10)


def test_dense_crf_loss_float32_within_float32_rounding():
    """float32 sums ~ H W K products: relative error a few times 1e-7 x sqrt(terms)."""
    probs = softmax_of(2, 3, 16, 16, seed=4)
    images = images_of(2, 16, 16)
    ref = float(dense_crf_loss(probs, images, 15.0, 10.0, 1.0))
    ours = float(dense_crf_loss(probs.float(), images, 15.0, 10.0, 1.0))
    assert ours == pytest.approx(ref, rel=1e-5)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_dense_crf_loss_gradcheck(scale):
    probs = softmax_of(2, 3, 6, 5, seed=7).requires_grad_()
    images = images_of(2, 6, 5)
    rois = torch.ones(2, 6, 5)
    rois[0, :2] = 0
    assert torch.autograd.gradcheck(lambda p: dense_crf_loss(p, images, 20.0, 3.0, scale, rois), (probs,))


def test_dense_crf_loss_gradient_is_rloss_minus_two_w_s_for_the_symmetrized_kernel():
    probs = softmax_of(1, 3, 7, 8, seed=9).requires_grad_()
    images = images_of(1, 7, 8)
    dense_crf_loss(probs, images, 15.0, 4.0, 1.0).backward()
    wm = matrix(bilateral(images, 4.0, 15.0), 0, 56)
    s = probs.detach()[0].reshape(3, -1).numpy()
    expected = -2 * (s @ ((wm + wm.T) / 2).T)  # -2 W_sym S, per class row
    np.testing.assert_allclose(probs.grad[0].reshape(3, -1).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_dense_crf_loss_batch_equals_mean_of_images():
    probs = softmax_of(4, 3, 9, 9, seed=11)
    images = images_of(4, 9, 9, seed=2)
    whole = float(dense_crf_loss(probs, images, 15.0, 6.0, 1.0))
    singles = [float(dense_crf_loss(probs[i:i + 1], images[i:i + 1], 15.0, 6.0, 1.0)) for i in range(4)]
    assert whole == pytest.approx(np.mean(singles), rel=1e-12)


# ------------------------------------------------------------------ differentiable mean-field


def mean_field_reference(unary, images, iterations, gaussian_compat, bilateral_compat, normalization=SYMMETRIC,
                         gaussian_sigma=3.0, bilateral_sigma=80.0, color_sigma=13.0):
    """Krähenbühl & Koltun's update with every kernel a dense matrix, normalized in float64
    as densecrf does (symmetric: D K D, D = 1 / sqrt(K 1)); compat: Potts w adds w K Q, a
    diagonal subtracts w_l (K Q)_l, a matrix subtracts W_sym K Q."""
    n, labels, h, w = unary.shape
    p = h * w
    out = []
    for b in range(n):
        u = unary[b].reshape(labels, p).T.detach().numpy().astype(np.float64)
        terms = []
        if gaussian_compat is not None:
            kg = kernel_batch((h, w), [gaussian_sigma] * 2, None, [], NONE, 1)
            terms.append((matrix(kg, 0, p), gaussian_compat))
        if bilateral_compat is not None:
            kb = bilateral(images[b:b + 1], bilateral_sigma, color_sigma)
            terms.append((matrix(kb, 0, p), bilateral_compat))
        normalized = []
        for k, compat in terms:
            k1 = k @ np.ones(p)
            if normalization == SYMMETRIC:
                d = 1 / np.sqrt(k1 + 1e-20)
                k = d[:, None] * k * d[None, :]
            normalized.append((k, np.asarray(compat, dtype=np.float64)))
        q = _softmax(-u)
        for _ in range(iterations):
            energy = -u.copy()
            for k, c in normalized:
                f = k @ q
                if c.ndim == 0:
                    energy += c * f
                elif c.ndim == 1:
                    energy -= f * c
                else:
                    energy -= f @ ((c + c.T) / 2)
            q = _softmax(energy)
        out.append(q.T.reshape(labels, h, w))
    return np.stack(out)


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("compats", [(3.0, 10.0), (None, 5.0), (2.0, None), ([1.0, 2.0, 0.5], 4.0),
                                     (np.arange(9.0).reshape(3, 3) / 4, 3.0)])
def test_mean_field_float64_equals_the_reference(compats):
    g = torch.Generator().manual_seed(0)
    unary = torch.randn(2, 3, 7, 6, generator=g, dtype=torch.float64)
    images = images_of(2, 7, 6)
    gc, bc = compats
    ours = crf_mean_field(unary, images, 5, gaussian_compat=gc, bilateral_compat=bc)
    ref = mean_field_reference(unary, images, 5, gc, bc)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10, atol=1e-13)


def test_mean_field_without_normalization_equals_the_reference():
    unary = torch.randn(1, 2, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    images = images_of(1, 5, 5)
    ours = crf_mean_field(unary, images, 3, gaussian_compat=0.1, bilateral_compat=0.2, normalization="none")
    ref = mean_field_reference(unary, images, 3, 0.1, 0.2, normalization=NONE)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("iterations", [1, 5, 10])
def test_mean_field_float32_equals_dense_crf_bit_for_bit(iterations):
    unary = torch.randn(3, 4, 20, 17, generator=torch.Generator().manual_seed(iterations))
    images = images_of(3, 20, 17)
    ours = crf_mean_field(unary, images, iterations)
    theirs = weaksup.dense_crf(images.permute(0, 2, 3, 1).contiguous().numpy(),
                               unary=unary.permute(0, 2, 3, 1).contiguous().numpy(), iterations=iterations)
    assert np.array_equal(ours.permute(0, 2, 3, 1).numpy(), theirs)


def test_mean_field_float64_is_float32_to_rounding():
    unary = torch.randn(2, 3, 15, 15, generator=torch.Generator().manual_seed(5))
    images = images_of(2, 15, 15)
    q32 = crf_mean_field(unary, images, 10)
    q64 = crf_mean_field(unary.double(), images, 10)
    np.testing.assert_allclose(q32.numpy(), q64.numpy(), atol=1e-5)


def test_mean_field_zero_iterations_is_the_softmax():
    unary = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    q = crf_mean_field(unary, images_of(1, 4, 4), 0)
    torch.testing.assert_close(q, torch.softmax(-unary, dim=1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("compat_kind", ["potts", "diagonal", "matrix"])
def test_mean_field_gradcheck_unary_and_compat(compat_kind):
    g = torch.Generator().manual_seed(1)
    unary = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    images = images_of(2, 4, 5)
    values = {"potts": torch.tensor(2.0, dtype=torch.float64),
              "diagonal": torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64),
              "matrix": torch.rand(3, 3, generator=g, dtype=torch.float64)}[compat_kind].requires_grad_()
    weight = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda u, c, w: crf_mean_field(u, images, 3, gaussian_compat=c, bilateral_compat=w, bilateral_sigma=5.0,
                                       color_sigma=40.0), (unary, values, weight))


def test_mean_field_float32_gradient_close_to_float64():
    unary = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    images = images_of(1, 8, 8)
    target = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    grads = []
    for dtype in (torch.float32, torch.float64):
        u = unary.detach().to(dtype).clone().requires_grad_()
        (crf_mean_field(u, images, 5) * target.to(dtype)).sum().backward()
        grads.append(u.grad.double())
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-5)


def test_mean_field_batch_equals_single_images():
    unary = torch.randn(3, 2, 9, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(8),
                        requires_grad=True)
    images = images_of(3, 9, 8, seed=1)
    (crf_mean_field(unary, images, 4) ** 2).sum().backward()
    whole = unary.grad.clone()
    for i in range(3):
        u = unary.detach()[i:i + 1].clone().requires_grad_()
        q = crf_mean_field(u, images[i:i + 1], 4)
        torch.testing.assert_close(q, crf_mean_field(unary.detach(), images, 4)[i:i + 1], rtol=0, atol=0)
        (q ** 2).sum().backward()
        torch.testing.assert_close(u.grad, whole[i:i + 1], rtol=1e-12, atol=1e-14)


def test_mean_field_leaves_inputs_alone():
    unary = torch.randn(1, 2, 5, 5)
    images = images_of(1, 5, 5)
    u0, i0 = unary.clone(), images.clone()
    crf_mean_field(unary, images, 3)
    assert torch.equal(unary, u0) and torch.equal(images, i0)


# ------------------------------------------------------------------ bad arguments


def test_bad_arguments_are_named():
    probs = softmax_of(1, 2, 4, 4, dtype=torch.float32)
    images = images_of(1, 4, 4)
    with pytest.raises(TypeError, match="probs must be a torch tensor"):
        dense_crf_loss(probs.numpy(), images)
    with pytest.raises(ValueError, match="probs must have 4 axes"):
        dense_crf_loss(probs[0], images)
    with pytest.raises(ValueError, match="probs .* and images .* must agree"):
        dense_crf_loss(probs, images_of(1, 5, 4))
    with pytest.raises(ValueError, match="probs must sum to 1"):
        dense_crf_loss(probs * 0.5, images)
    with pytest.raises(ValueError, match="probs must be probabilities in"):
        dense_crf_loss(torch.randn(1, 2, 4, 4), images)
    with pytest.raises(ValueError, match="images requires grad"):
        dense_crf_loss(probs, images.clone().requires_grad_())
    with pytest.raises(ValueError, match="rois must have shape"):
        dense_crf_loss(probs, images, rois=torch.ones(1, 3, 4))
    with pytest.raises(ValueError, match="one device"):
        dense_crf_loss(probs, images.to("meta"))
    with pytest.raises(ValueError, match="scale"):
        dense_crf_loss(probs, images, scale=0.0)
    with pytest.raises(ValueError, match="sigma_xy"):
        dense_crf_loss(probs, images, sigma_xy=1e-30)
    for bad in (float("nan"), float("inf"), -float("inf")):
        broken = images.clone()
        broken[0, 1, 2, 3] = bad
        with pytest.raises(ValueError, match="images must be finite"):
            dense_crf_loss(probs, broken, scale=1.0)
    with pytest.raises(ValueError, match="sigma_rgb = 1e-30 is too small"):
        dense_crf_loss(probs, images, sigma_rgb=1e-30)
    with pytest.raises(ValueError, match="sigma_rgb .* is too small"):
        dense_crf_loss(probs, -images - 1e9, scale=1.0)  # the most negative colour counts too
    with pytest.raises(TypeError, match="unary must be float32 or float64"):
        crf_mean_field(torch.zeros(1, 2, 4, 4, dtype=torch.int64), images)
    with pytest.raises(ValueError, match="unary must be finite"):
        crf_mean_field(torch.full((1, 2, 4, 4), float("nan")), images)
    with pytest.raises(ValueError, match="images requires grad"):
        crf_mean_field(torch.zeros(1, 2, 4, 4), images.clone().requires_grad_())
    with pytest.raises(ValueError, match="gaussian_compat has shape"):
        crf_mean_field(torch.zeros(1, 2, 4, 4), images, gaussian_compat=torch.ones(3))
    with pytest.raises(ValueError, match="iterations"):
        crf_mean_field(torch.zeros(1, 2, 4, 4), images, -1)


def test_mean_field_as_torch_ops_equals_the_native_path(monkeypatch):
    """CUDA tensors run the iterations as torch ops around the lattice filters (autograd
    differentiates them); on the CPU that path must give the native path's values and
    gradients, for the unary and a compat tensor."""
    from weaksup.torch import _crf

    images = images_of(2, 5, 6, seed=4)
    unary = -torch.log(softmax_of(2, 3, 5, 6, seed=5))
    target = torch.rand(2, 3, 5, 6, generator=torch.Generator().manual_seed(6), dtype=torch.float64)

    def run():
        u = unary.clone().requires_grad_()
        diagonal = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64, requires_grad=True)
        q = crf_mean_field(u, images, 4, bilateral_sigma=5.0, color_sigma=20.0, bilateral_compat=diagonal)
        (q * target).sum().backward()
        return q.detach(), u.grad, diagonal.grad

    native = run()
    monkeypatch.setattr(_crf, "_native_mean_field", lambda device: False)
    composed = run()
    for a, b in zip(native, composed):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


def _cuda_or_skip():
    from weaksup import _arrays

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    if not _arrays.cuda_available():
        pytest.skip("weaksup was built without CUDA")


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-6), (torch.float32, 1e-4)])
def test_dense_crf_loss_on_cuda_equals_the_cpu(dtype, tol):
    """The GPU lattices agree with the CPU's to float rounding (their weights are float32
    on both), for the loss and its gradient; everything stays on the device."""
    _cuda_or_skip()
    images, probs = images_of(3, 20, 24, seed=1), softmax_of(3, 4, 20, 24, seed=2, dtype=dtype)
    grads = []
    for device in ("cpu", "cuda"):
        p = probs.to(device).requires_grad_()
        loss = dense_crf_loss(p, images.to(device), sigma_rgb=15.0, sigma_xy=20.0, scale=0.5)
        loss.backward()
        assert loss.device.type == device and p.grad.device.type == device
        grads.append((loss.detach().cpu(), p.grad.cpu()))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=tol, atol=0)
    torch.testing.assert_close(grads[1][1], grads[0][1], rtol=tol, atol=tol * float(grads[0][1].abs().max()))


def test_mean_field_on_cuda_equals_the_cpu_and_passes_gradcheck():
    _cuda_or_skip()
    images = images_of(2, 6, 7, seed=3)
    unary = -torch.log(softmax_of(2, 3, 6, 7, seed=4))
    target = torch.rand(2, 3, 6, 7, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    out = []
    for device in ("cpu", "cuda"):
        u = unary.to(device).requires_grad_()
        q = crf_mean_field(u, images.to(device), 5, bilateral_sigma=5.0, color_sigma=20.0)
        (q * target.to(device)).sum().backward()
        out.append((q.detach().cpu(), u.grad.cpu()))
    for a, b in zip(*out):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)
    u = unary[:1, :, :4, :4].cuda().requires_grad_()
    img = images[:1, :, :4, :4].cuda()
    assert torch.autograd.gradcheck(lambda x: crf_mean_field(x, img, 3, bilateral_sigma=5.0, color_sigma=20.0), (u,))
    probs = softmax_of(1, 2, 4, 4).cuda().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: dense_crf_loss(x, img, sigma_xy=5.0, scale=1.0), (probs,))
