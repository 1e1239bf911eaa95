"""Fuzzing the dense CRF entry points and the pydensecrf compat layer (tests/fuzzing.py has
the contract): a valid result or ValueError / TypeError, nothing else, inputs untouched."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import weaksup
import weaksup.compat.pydensecrf.densecrf as dcrf
from weaksup.compat.pydensecrf import utils as dcrf_utils
from weaksup.crf import unary_from_probabilities

from fuzzing import arrays, call, edge_floats, fuzz_settings, layouts, maybe_wrong, mostly, ok, one_wrong

FLOATS = [np.float16, np.float32, np.float64]
sides = st.integers(0, 5)
label_counts = st.sampled_from([0, 1, 2, 3, 5, 8, 13, 21])
sigmas = st.one_of(st.sampled_from([1e-50, 1e-6, 1e-3, 0.5, 3.0, 80.0, 1e6, 1e30, 0.0, -1.0, np.nan, np.inf]),
                   st.floats(1e-3, 1e3), st.lists(st.floats(0.1, 100.0), min_size=1, max_size=4))
compats = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 3.0, 10.0, -2.0, 1e30, np.nan]),
                    arrays(shape=st.sampled_from([(2,), (3,), (2, 2), (3, 3), (5, 5)]), dtypes=FLOATS))
normalizations = st.sampled_from(["none", "before", "after", "symmetric", 0, 3, 4, "NORMAL", 1.0])


def sometimes_wrong(good):
    """Three in four a good value, else maybe_wrong's mix."""
    return mostly(good, maybe_wrong(good), times=3)


def marginals_ok(q, shape, axis=-1):
    """float32 marginals of the expected shape: finite, in [0, 1], summing to 1 per point."""
    q = np.asarray(q)
    assert q.shape == tuple(shape) and q.dtype == np.float32
    assert np.isfinite(q).all() and (q >= 0).all() and (q <= 1 + 1e-6).all()
    np.testing.assert_allclose(q.sum(axis=axis), 1.0, atol=1e-4)


@st.composite
def probabilities(draw, shape, axis=-1):
    """Valid probabilities (non-negative, summing to 1 along `axis`) in any float layout."""
    raw = draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
    total = raw.sum(axis=axis, keepdims=True)
    p = np.where(total > 0, raw / np.where(total > 0, total, 1), 1.0 / max(1, shape[axis] if shape else 1))
    return draw(layouts(p.astype(draw(st.sampled_from([np.float32, np.float64])))))


@st.composite
def image_problems(draw):
    """(images, probs, expected shape): three cases in four valid (uint8 or float images,
    probabilities), the fourth anything: wrong shapes, dtypes, NaN, extremes."""
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    channels = draw(st.sampled_from([1, 3, 3, 4]))
    labels = draw(st.sampled_from([2, 3, 5, 8, 13, 21]))
    p_shape = batch + (h, w, labels)
    if draw(st.sampled_from([True, True, True, False])):
        img_dtype = draw(st.sampled_from([np.uint8, np.float32, np.float64]))
        images = draw(arrays(shape=batch + (h, w, channels), dtypes=[img_dtype],
                             elements=st.integers(0, 255).map(img_dtype)))
        return images, draw(probabilities(p_shape)), p_shape
    h, w, labels = draw(sides), draw(sides), draw(label_counts)
    img_shape = batch + (h, w, draw(st.sampled_from([0, 1, 3])))
    if draw(st.booleans()):
        img_shape = draw(st.sampled_from([(h, w), (h, w + 1, 3), batch + (h, w, 3, 1)]))
    p_shape = batch + (h, w, labels)
    probability_like = st.one_of(st.floats(0, 1, width=32), edge_floats(np.float32))
    if draw(st.booleans()):  # mostly probabilities, a few edge values
        probs = draw(arrays(shape=p_shape, dtypes=[np.float32, np.float64], elements=probability_like))
    else:
        probs = draw(arrays(shape=p_shape))
    return draw(arrays(shape=img_shape)), probs, p_shape


@given(problem=image_problems(), data=st.data())
@fuzz_settings
def test_fuzz_dense_crf(problem, data):
    images, probs, p_shape = problem
    valid_sigmas = st.one_of(st.floats(0.5, 100.0), st.lists(st.floats(0.5, 100.0), min_size=2, max_size=2))
    kwargs = data.draw(st.fixed_dictionaries({}, optional={
        "iterations": sometimes_wrong(st.integers(1, 3)),
        "gaussian_sigma": st.one_of(valid_sigmas, valid_sigmas, maybe_wrong(sigmas)),
        "gaussian_compat": sometimes_wrong(compats),
        "bilateral_sigma": st.one_of(valid_sigmas, valid_sigmas, maybe_wrong(sigmas)),
        "color_sigma": st.one_of(st.floats(1.0, 50.0), maybe_wrong(sigmas)),
        "bilateral_compat": sometimes_wrong(compats),
        "normalization": sometimes_wrong(normalizations),
        "clip": sometimes_wrong(st.sampled_from([1e-5, 0.0, 1e-50, 0.5, 1.0, 2.0, np.nan])),
        "threads": sometimes_wrong(st.sampled_from([0, 1, 2, 1024, 1025, -1, 2**31])),
    }))
    as_unary = data.draw(st.booleans())
    source = probs
    if as_unary and np.asarray(probs).dtype.kind == "f":
        with np.errstate(divide="ignore", invalid="ignore"):
            source = -np.log(probs)  # energies (inf where p = 0: rejected)
    q = call(weaksup.dense_crf, images, **({"unary": source} if as_unary else {"probs": source}), **kwargs)
    if ok(q):
        marginals_ok(q, p_shape)


@given(problem=image_problems(), data=st.data())
@fuzz_settings
def test_fuzz_dense_crf_label_axis_and_volumes(problem, data):
    images, probs, p_shape = problem
    spatial_dims = data.draw(maybe_wrong(st.sampled_from([2, 3, 1, 4])))
    label_axis = data.draw(maybe_wrong(st.integers(-6, 5)))
    moved = probs
    if isinstance(label_axis, int) and -probs.ndim <= label_axis < probs.ndim:
        moved = np.moveaxis(probs, -1, label_axis)
    q = call(weaksup.dense_crf, images, moved, spatial_dims=spatial_dims, label_axis=label_axis, iterations=1)
    if ok(q):
        marginals_ok(q, moved.shape, label_axis)


@given(problem=image_problems(), args=one_wrong(
    {"maxiter": st.integers(0, 3), "scale_factor": st.floats(0.5, 12.0), "color_factor": st.floats(1.0, 30.0),
     "threads": st.sampled_from([0, 1])},
    {"maxiter": maybe_wrong(st.integers(-2, 0)),
     "scale_factor": maybe_wrong(st.sampled_from([1e-30, 1e30, 0.0, -1.0, np.inf, np.nan])),
     "color_factor": maybe_wrong(st.sampled_from([1e-50, 1e-46, 1e30, 0.0, np.inf])),
     "threads": maybe_wrong(st.sampled_from([-1, 1025, 2**31]))}))
@fuzz_settings
def test_fuzz_crf_inference(problem, args):
    images, probs, p_shape = problem
    q = call(weaksup.crf_inference, images, probs, **args)
    if ok(q):
        marginals_ok(q, p_shape)


@given(q=arrays(ndims=(0, 4)), label_axis=maybe_wrong(st.integers(-5, 4)))
@fuzz_settings
def test_fuzz_crf_labels(q, label_axis):
    labels = call(weaksup.crf_labels, q, label_axis)
    if ok(labels):
        expected = np.asarray(q).argmax(axis=label_axis)
        assert labels.dtype == np.int64 and labels.shape == expected.shape
        np.testing.assert_array_equal(labels, expected)


@given(probs=arrays(ndims=(0, 3), dtypes=FLOATS + [np.int64]),
       clip=maybe_wrong(st.sampled_from([1e-5, 0.0, 1e-50, 0.5, 1.0, 2.0, np.nan])))
@fuzz_settings
def test_fuzz_unary_from_probabilities(probs, clip):
    u = call(unary_from_probabilities, probs, clip)
    if ok(u):
        assert u.shape == probs.shape and u.dtype == np.float32
        assert np.isfinite(u).all() and (u >= 0).all()


# ------------------------------------------------------------------ the general model

@st.composite
def models(draw):
    """A DenseCRF(n, L) and an argument for one of its methods (sometimes wrong)."""
    n = draw(st.integers(1, 12))
    labels = draw(st.sampled_from([2, 3, 5, 8, 13]))
    return n, labels


@given(args=one_wrong(
    {"n_points": st.integers(1, 10**6), "n_labels": st.integers(2, 1024), "threads": st.integers(0, 1024)},
    {"n_points": maybe_wrong(st.sampled_from([0, -3, 2**31, 2**40])),
     "n_labels": maybe_wrong(st.sampled_from([0, 1, 1025, 2**31])),
     "threads": maybe_wrong(st.sampled_from([-1, 1025, 2**31]))}))
@fuzz_settings
def test_fuzz_DenseCRF(args):
    model = call(weaksup.DenseCRF, **args)
    if ok(model):
        assert (model.n_points, model.n_labels, model.threads) == (args["n_points"], args["n_labels"], args["threads"])


@given(size=models(), data=st.data())
@fuzz_settings
def test_fuzz_DenseCRF_methods(size, data):
    """set_unary_energy / set_probabilities / add_pairwise_energy, then inference, map,
    start/step inference and kl_divergence, each with fuzzed arguments."""
    n, labels = size
    model = weaksup.DenseCRF(n, labels, threads=data.draw(st.sampled_from([0, 1, 2])))
    if data.draw(st.sampled_from([True, True, False])):
        unary = data.draw(probabilities((n, labels)))
    else:
        shape = data.draw(st.sampled_from([(n, labels), (n, labels), (labels, n), (n,), (n, labels, 1)]))
        unary = data.draw(arrays(shape=shape))
    if data.draw(st.booleans()):
        call(model.set_unary_energy, unary)
    else:
        call(model.set_probabilities, unary, data.draw(maybe_wrong(st.sampled_from([1e-5, 0.0, 1e-50, 1.0]))))
    for _ in range(data.draw(st.integers(0, 2))):
        d = data.draw(st.integers(0, 6))
        scale = data.draw(st.sampled_from([1.0, 1.0, 1e3, 3e7, 1e20, 1e36]))
        small = data.draw(st.sampled_from([True, True, False]))
        features = data.draw(arrays(shape=st.sampled_from([(n, d), (n, d), (n, d), (d, n), (n,)]),
                                    dtypes=FLOATS if small else None,
                                    elements=st.floats(-1, 1, width=16) if small else None))
        if features.dtype.kind == "f":
            with np.errstate(over="ignore", invalid="ignore"):
                features = data.draw(layouts(features * features.dtype.type(min(scale, np.finfo(features.dtype).max))))
        call(model.add_pairwise_energy, features, data.draw(sometimes_wrong(compats)),
             data.draw(sometimes_wrong(normalizations)))
    iterations = data.draw(sometimes_wrong(st.integers(0, 3)))
    q = call(model.inference, iterations)
    if ok(q):
        marginals_ok(q, (n, labels))
        m = call(model.map, iterations)
        assert ok(m) and m.shape == (n,) and ((0 <= m) & (m < labels)).all()
    q0 = call(model.start_inference)
    if ok(q0):
        marginals_ok(q0, (n, labels))
        target = data.draw(st.sampled_from(["own", "copy", "fortran", "float64", "nan", "negative", "wrong"]))
        q = {"own": q0, "copy": q0.copy(), "fortran": np.asfortranarray(q0), "float64": q0.astype(np.float64),
             "nan": np.where(q0 > 0.5, np.nan, q0).astype(np.float32), "negative": -q0,
             "wrong": data.draw(maybe_wrong(arrays()))}[target]
        before = q.copy() if isinstance(q, np.ndarray) else None
        try:  # step_inference updates q in place by design: the contract's input check does not apply
            model.step_inference(q)
        except (ValueError, TypeError) as error:
            assert str(error)
            if before is not None:
                assert np.array_equal(q, before, equal_nan=True), "a rejected q was modified"
        else:
            marginals_ok(q, (n, labels))
        kl = call(model.kl_divergence, q)
        if ok(kl):
            assert isinstance(kl, float) and not np.isnan(kl)


# ------------------------------------------------------------------ pydensecrf compat

@given(nvar=sometimes_wrong(st.sampled_from([1, 6, 6, 0, -2, 2**31])),
       nlabels=sometimes_wrong(st.sampled_from([2, 5, 5, 1, 0])),
       data=st.data())
@fuzz_settings
def test_fuzz_compat_DenseCRF(nvar, nlabels, data):
    model = call(dcrf.DenseCRF, nvar, nlabels)
    if not ok(model):
        return
    if data.draw(st.sampled_from([True, True, False])):
        u = -np.log(np.clip(data.draw(probabilities((nlabels, nvar), axis=0)), 1e-5, 1))
    else:
        u = data.draw(arrays(shape=st.sampled_from([(nlabels, nvar), (nlabels, nvar), (nvar, nlabels), (nvar,)])))
    call(model.setUnaryEnergy, u)
    call(model.setUnary, data.draw(st.sampled_from([dcrf.ConstUnary(u), "u", None])))
    features = data.draw(arrays(shape=st.sampled_from([(2, nvar), (5, nvar), (nvar, 2), (0, nvar)]),
                                dtypes=FLOATS, elements=st.floats(-10, 10, width=16)))
    call(model.addPairwiseEnergy, features, compat=data.draw(sometimes_wrong(compats)),
         kernel=data.draw(maybe_wrong(st.sampled_from([dcrf.CONST_KERNEL, dcrf.DIAG_KERNEL, dcrf.FULL_KERNEL, 7]))),
         normalization=data.draw(maybe_wrong(st.sampled_from([0, 1, 2, 3, 4]))))
    q = call(model.inference, data.draw(sometimes_wrong(st.integers(0, 3))))
    if ok(q):
        marginals_ok(q, (nlabels, nvar), axis=0)
    start = call(model.startInference)
    if ok(start):
        Q, tmp1, tmp2 = start
        model.stepInference(Q, tmp1, tmp2)  # updates Q in place, by design
        marginals_ok(Q, (nlabels, nvar), axis=0)
        kl = call(model.klDivergence, Q)
        if ok(kl):
            assert not np.isnan(kl)
    call(model.klDivergence, data.draw(maybe_wrong(arrays())))


@given(w=sometimes_wrong(st.integers(0, 5)), h=sometimes_wrong(st.integers(0, 5)), nlabels=st.sampled_from([2, 3, 6]),
       data=st.data())
@fuzz_settings
def test_fuzz_compat_DenseCRF2D(w, h, nlabels, data):
    model = call(dcrf.DenseCRF2D, w, h, nlabels)
    if not ok(model):
        return
    probs = data.draw(arrays(shape=(nlabels, h * w), dtypes=FLOATS, elements=st.floats(0, 1, width=16)))
    call(model.setUnaryEnergy, dcrf_utils.unary_from_softmax(np.clip(probs, 1e-3, 1).astype(np.float32)))
    good_sigma = st.floats(0.5, 100.0)
    call(model.addPairwiseGaussian, sxy=data.draw(mostly(good_sigma, maybe_wrong(sigmas), times=3)),
         compat=data.draw(sometimes_wrong(compats)))
    if data.draw(st.sampled_from([True, True, False])):
        image = data.draw(arrays(shape=(h, w, 3), dtypes=[np.uint8]))
    else:
        image = data.draw(arrays(shape=st.sampled_from([(h, w, 3), (h, w), (h, w, 1), (w, h, 3)])))
    call(model.addPairwiseBilateral, sxy=data.draw(mostly(good_sigma, maybe_wrong(sigmas), times=3)),
         srgb=data.draw(mostly(good_sigma, maybe_wrong(sigmas), times=3)), rgbim=image,
         compat=data.draw(sometimes_wrong(compats)))
    q = call(model.inference, data.draw(st.integers(0, 2)))
    if ok(q):
        marginals_ok(q, (nlabels, h * w), axis=0)


@st.composite
def label_images(draw):
    n_labels = draw(st.integers(2, 8))
    return draw(arrays(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), dtypes=[np.int32, np.int64,
                                                                                          np.uint8],
                       elements=st.integers(0, n_labels - 1))), n_labels


@given(good=label_images(), data=st.data())
@fuzz_settings
def test_fuzz_compat_unary_from_labels(good, data):
    labels, n_labels = good
    args = data.draw(one_wrong(
        {"labels": st.just(labels), "n_labels": st.just(n_labels), "gt_prob": st.floats(0.01, 0.99),
         "zero_unsure": st.booleans()},
        {"labels": arrays(ndims=(0, 3)), "n_labels": maybe_wrong(st.sampled_from([0, 1, n_labels - 1])),
         "gt_prob": maybe_wrong(st.sampled_from([0.0, 1.0, 1e-30, 1 - 1e-17, np.nan])),
         "zero_unsure": maybe_wrong(st.just(None))}))
    labels, n_labels, gt_prob, zero_unsure = args["labels"], args["n_labels"], args["gt_prob"], args["zero_unsure"]
    u = call(dcrf_utils.unary_from_labels, labels, n_labels, gt_prob, zero_unsure)
    if ok(u):
        assert u.shape == (n_labels, labels.size) and u.dtype == np.float32 and np.isfinite(u).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = call(dcrf_utils.compute_unary, labels, n_labels, gt_prob)
    if ok(old):
        assert old.shape == (n_labels, labels.size)


@given(sm=arrays(ndims=(0, 4)), scale=maybe_wrong(st.sampled_from([None, 1.0, 0.5, 0.0, 2.0, np.nan])),
       clip=maybe_wrong(st.sampled_from([None, 1e-5, 0.0, 0.5, 1.0, -1.0, np.nan])))
@fuzz_settings
def test_fuzz_compat_unary_from_softmax(sm, scale, clip):
    u = call(dcrf_utils.unary_from_softmax, sm, scale, clip)
    if ok(u):
        assert u.dtype == np.float32 and u.shape == (sm.shape[0], sm[0].size)
        assert not np.isnan(u).any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = call(dcrf_utils.softmax_to_unary, sm, scale if scale is not None else 1)
    if ok(old):
        assert old.shape == (sm.shape[0], sm[0].size)


@given(sdims=maybe_wrong(st.one_of(st.lists(st.sampled_from([1.0, 3.0, 0.5, 0.0, -1.0, 1e-50, np.inf]),
                                            min_size=0, max_size=4), st.sampled_from([3.0, 0.0]))),
       shape=maybe_wrong(st.lists(st.integers(-1, 5), min_size=0, max_size=4)))
@fuzz_settings
def test_fuzz_compat_create_pairwise_gaussian(sdims, shape):
    f = call(dcrf_utils.create_pairwise_gaussian, sdims, shape)
    if ok(f):
        assert f.dtype == np.float32 and f.shape == (len(shape), int(np.prod(shape)))
        assert np.isfinite(f).all()


@st.composite
def rgb_images(draw):
    shape = draw(st.sampled_from([(3, 4, 3), (1, 1, 1), (2, 5, 1), (4, 4, 4)]))
    return draw(arrays(shape=shape, dtypes=[np.uint8, np.float32], elements=st.integers(0, 255).map(np.uint8)))


@given(good=rgb_images(), data=st.data())
@fuzz_settings
def test_fuzz_compat_create_pairwise_bilateral(good, data):
    channels = good.shape[-1]
    args = data.draw(one_wrong(
        {"sdims": st.tuples(st.floats(0.5, 80.0), st.floats(0.5, 80.0)),
         "schan": st.one_of(st.floats(1.0, 20.0), st.lists(st.floats(1.0, 20.0), min_size=channels,
                                                           max_size=channels)),
         "img": st.just(good), "chdim": st.just(2)},
        {"sdims": maybe_wrong(st.lists(st.sampled_from([1.0, 80.0, 0.0, -1.0, 1e-50, np.nan]), max_size=3)),
         "schan": maybe_wrong(st.one_of(st.sampled_from([0.0, 1e-50, np.nan]),
                                        st.lists(st.sampled_from([13.0, 1.0, 0.0]), max_size=5))),
         "img": arrays(ndims=(0, 4)), "chdim": maybe_wrong(st.integers(-4, 3))}))
    img, chdim = args["img"], args["chdim"]
    f = call(dcrf_utils.create_pairwise_bilateral, args["sdims"], args["schan"], img, chdim)
    if ok(f):
        spatial = img.shape if chdim == -1 else np.delete(np.array(img.shape), chdim)
        channels = 1 if chdim == -1 else img.shape[chdim]
        assert f.dtype == np.float32 and f.shape == (len(spatial) + channels, int(np.prod(spatial)))
        assert np.isfinite(f).all()


def test_logistic_unary_is_a_clear_type_error():
    """pydensecrf's learnable unaries are not provided: a TypeError (and NotImplementedError)."""
    with pytest.raises(TypeError, match="learning"):
        dcrf.LogisticUnary(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(NotImplementedError, match="learning"):
        dcrf.DenseCRF(3, 2).setUnaryEnergy(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
