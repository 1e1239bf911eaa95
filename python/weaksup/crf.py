"""Dense CRF mean-field inference (Krähenbühl & Koltun 2011) on the permutohedral lattice.

Computed as densecrf / pydensecrf compute it (same lattice, same blur, same
normalizations), multithreaded with the GIL released, for one image or a batch, on the
CPU or (CuPy / torch CUDA arrays) the GPU. ``weaksup.compat.pydensecrf`` is a drop-in
for ``pydensecrf``.

Layouts: an image is (H, W, C) (or a volume (D, H, W, C)), a batch adds a leading axis;
probabilities and results are the image's spatial shape with a label axis, last by
default (``label_axis`` moves it, e.g. 1 for (B, L, H, W)). The general ``DenseCRF``
takes point-major arrays (N, L) and features (N, d).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union, cast, overload

import numpy as np
import numpy.typing as npt

from . import _arrays, _core, _dask
from ._arrays import Device

NO_NORMALIZATION, NORMALIZE_BEFORE, NORMALIZE_AFTER, NORMALIZE_SYMMETRIC = 0, 1, 2, 3
_NORMALIZATIONS = {"none": 0, "before": 1, "after": 2, "symmetric": 3}
_POTTS, _DIAGONAL, _MATRIX = 0, 1, 2
_MAX_ELEMENTS = 2**31 - 1
_MAX_LABELS = 1024  # labels per point (the kernels' padded rows)
_MAX_FEATURES = 64  # feature dimensions per pairwise term (one lattice)
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # clip below this is 0 in float32: log(0)
_FLOAT32_MAX = float(np.finfo(np.float32).max)

Compat = Union[float, Sequence[float], np.ndarray]
# The image terms as the kernels take them: (sigmas fastest axis first, colour sigmas (None
# for the Gaussian term), compat kind, float32 compat values).
_GaussianTerm = Tuple[List[float], None, int, npt.NDArray[np.float32]]
_BilateralTerm = Tuple[List[float], List[float], int, npt.NDArray[np.float32]]


def _normalization(value: Any) -> int:
    return _arrays.check_choice(value, "normalization", {**_NORMALIZATIONS, 0: 0, 1: 1, 2: 2, 3: 3})


def _compat(compat: Any, labels: int, name: str = "compat") -> Tuple[int, npt.NDArray[np.float32]]:
    """(kind, float32 values) of a Potts weight, a diagonal (L,) or a matrix (L, L)."""
    values = np.asarray(_arrays.to_host(compat, name))
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a number, a ({labels},) vector or a ({labels}, {labels}) matrix, "
                        f"got {compat!r}")
    values = _arrays.finite_float32(values.astype(np.float64), name)
    if values.ndim == 0:
        return _POTTS, values.reshape(1)
    if values.shape == (labels,):
        return _DIAGONAL, np.ascontiguousarray(values)
    if values.shape == (labels, labels):
        return _MATRIX, np.ascontiguousarray(values)
    raise ValueError(
        f"{name} has shape {values.shape}; expected a number (Potts), ({labels},) (diagonal) "
        f"or ({labels}, {labels}) (full matrix) for {labels} labels"
    )


def _positive(value: Any, name: str, count: int) -> List[float]:
    """A sigma (or one per axis / channel) as `count` floats, positive and finite in
    float32 (the kernels divide by the float32 value)."""
    values = np.asarray(_arrays.to_host(value, name))
    if values.dtype == np.bool_ or values.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a positive number or {count} of them, got {value!r}")
    arr = values.astype(np.float64).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, count)
    if arr.size != count:
        raise ValueError(f"{name} needs 1 or {count} values, got {arr.size}")
    if not (np.isfinite(arr).all() and (arr >= _FLOAT32_TINY).all() and (arr <= _FLOAT32_MAX).all()):
        raise ValueError(f"{name} must be positive and finite in float32 (from {_FLOAT32_TINY:.4g} to "
                         f"{_FLOAT32_MAX:.4g}), got {value!r}")
    return [float(np.float32(v)) for v in arr]


def _iterations(value: Any, allow_zero: bool = False, name: str = "iterations") -> int:
    return _arrays.check_int(value, name, 0 if allow_zero else 1)


def _clip(value: Any) -> float:
    return _arrays.check_real(value, "clip", _FLOAT32_TINY, 1.0)


def _feature_limit(values: float, dims: int, name: str, what: str) -> None:
    """ValueError naming `name` when features `what` / sigma reach past what a lattice of
    `dims` dimensions resolves (Lattice::max_feature: key coordinates must fit)."""
    limit = _core.max_feature(dims)
    if not values <= limit:
        raise ValueError(f"{name} is too small for {what}: features (value / sigma) reach {values:.4g}, but a "
                         f"{dims}-dimensional lattice takes at most {limit:.4g}; use a larger sigma")


def _marginals(q: Any, name: str = "q") -> None:
    if not (np.isfinite(q).all() and (q >= 0).all() and (q <= 1).all()):
        raise ValueError(f"{name} must hold marginals: finite values in [0, 1], as start_inference() returns")


def unary_from_probabilities(probs: Any, clip: float = 1e-5, name: str = "probs") -> npt.NDArray[np.float32]:
    """-log(max(p, clip)) as float32 (pydensecrf's ``unary_from_softmax``); p must be
    finite and non-negative (rows need not sum to 1)."""
    clip = _clip(clip)
    p = _arrays.finite_float32(np.asarray(_arrays.to_host(probs, name)), name)
    if (p < 0).any():
        raise ValueError(f"{name} has negative values; pass probabilities (or energies as unary=)")
    return -np.log(np.clip(p, np.float32(clip), np.float32(1.0)))


# ------------------------------------------------------------------ general model


class DenseCRF:
    """A fully connected CRF over ``n_points`` points and ``n_labels`` labels.

    Pairwise terms are Gaussian kernels over per-point features (any dimension, one
    permutohedral lattice each, built once), with a label compatibility: a Potts weight,
    a diagonal (L,) or a full (L, L) matrix (symmetrized, as densecrf does).

    Arrays are point-major: unary energies and marginals (N, L), features (N, d).
    """

    def __init__(self, n_points: int, n_labels: int, *, threads: int = 0):
        n_points = _arrays.check_int(n_points, "n_points", 1)
        n_labels = _arrays.check_int(n_labels, "n_labels", 2, _MAX_LABELS)
        if n_points * n_labels > _MAX_ELEMENTS:
            raise ValueError("n_points * n_labels is past 2^31 elements; split the problem")
        self.n_points, self.n_labels = n_points, n_labels
        self.threads = _arrays.check_threads(threads)
        self._unary: Optional[npt.NDArray[np.float32]] = None
        self._terms: List[_core.Term] = []

    def set_unary_energy(self, energies: Any) -> None:
        """Unary energies (N, L), e.g. -log p."""
        u = _arrays.finite_float32(np.asarray(_arrays.to_host(energies, "energies")), "energies")
        if u.shape != (self.n_points, self.n_labels):
            raise ValueError(f"energies has shape {u.shape}; expected ({self.n_points}, {self.n_labels})")
        self._unary = u

    def set_probabilities(self, probs: Any, clip: float = 1e-5) -> None:
        """Unary energies -log(max(p, clip)) from probabilities (N, L)."""
        p = np.asarray(_arrays.to_host(probs, "probs"))
        if p.shape != (self.n_points, self.n_labels):
            raise ValueError(f"probs has shape {p.shape}; expected ({self.n_points}, {self.n_labels})")
        self._unary = unary_from_probabilities(p, clip)

    def add_pairwise_energy(self, features: Any, compat: Compat = 1.0, normalization: Any = "symmetric") -> None:
        """A Gaussian term ``exp(-|f_i - f_j|^2 / 2)`` over features (N, d) (already divided by
        their sigmas), weighted by `compat`."""
        f = _arrays.finite_float32(np.asarray(_arrays.to_host(features, "features")), "features")
        if f.ndim != 2 or f.shape[0] != self.n_points or f.shape[1] < 1:
            raise ValueError(f"features has shape {f.shape}; expected ({self.n_points}, d) with d >= 1")
        if f.shape[1] > _MAX_FEATURES:
            raise ValueError(f"features has {f.shape[1]} dimensions; at most {_MAX_FEATURES} are supported")
        kind, values = _compat(compat, self.n_labels)
        kernel = _core.PairwiseKernel(f, _normalization(normalization), self.threads)
        self._terms.append((kernel, kind, values))

    def _energies(self) -> npt.NDArray[np.float32]:
        if self._unary is None:
            raise ValueError("no unary energies: call set_unary_energy() or set_probabilities() first")
        return self._unary

    def inference(self, iterations: int = 10) -> npt.NDArray[np.float32]:
        """Marginals Q (N, L) after `iterations` mean-field updates from softmax(-unary)."""
        return _core.mean_field(self._energies(), self._terms, _iterations(iterations, True), self.threads)

    def map(self, iterations: int = 10) -> npt.NDArray[np.intp]:
        """The most likely label per point (N,) after inference."""
        return cast(npt.NDArray[np.intp], self.inference(iterations).argmax(axis=1))

    def start_inference(self) -> npt.NDArray[np.float32]:
        """Q0 = softmax(-unary), (N, L), for step-wise inference."""
        return _core.mean_field_start(self._energies(), self.threads)

    def step_inference(self, q: npt.NDArray[np.float32]) -> None:
        """One mean-field update of q (N, L, float32, C-contiguous) in place."""
        self._check_q(q, writable=True)
        _core.mean_field_step(self._energies(), q, self._terms, self.threads)

    def kl_divergence(self, q: Any) -> float:
        """densecrf's KL divergence of q (N, L) from the CRF, up to its log-partition."""
        q = np.asarray(_arrays.to_host(q, "q"))
        _arrays.real_dtype(q.dtype, "q")
        with np.errstate(over="ignore"):  # past float32's range becomes inf: not marginals, rejected
            q = np.ascontiguousarray(q, dtype=np.float32)
        self._check_q(q)
        return float(_core.kl_divergence(self._energies(), q, self._terms, self.threads))

    def _check_q(self, q: Any, writable: bool = False) -> None:
        if not isinstance(q, np.ndarray) or q.dtype != np.float32 or not q.flags.c_contiguous:
            raise TypeError("q must be a C-contiguous float32 NumPy array, as start_inference() returns")
        if q.shape != (self.n_points, self.n_labels):
            raise ValueError(f"q has shape {q.shape}; expected ({self.n_points}, {self.n_labels})")
        if writable and not q.flags.writeable:
            raise ValueError("q must be writable: step_inference updates it in place")
        _marginals(q)


# ------------------------------------------------------------------ images


# The argument names dense_crf's errors use; crf_inference derives these values from its own.
_NAMES = {"probs": "probs", "unary": "unary", "gaussian_sigma": "gaussian_sigma",
          "bilateral_sigma": "bilateral_sigma", "color_sigma": "color_sigma", "iterations": "iterations"}


def _image_terms(
    spatial: Tuple[int, ...], channels: int, labels: int, gaussian_sigma: Any, gaussian_compat: Any,
    bilateral_sigma: Any, color_sigma: Any, bilateral_compat: Any, color_range: Callable[[], Any],
    names: Mapping[str, str],
) -> Tuple[Optional[_GaussianTerm], Optional[_BilateralTerm]]:
    """(gaussian, bilateral) as the kernels take them: sigmas fastest axis first.
    `color_range()` gives the images' largest |value| per channel (asked only for a
    bilateral term): positions and colours divided by their sigmas must stay in the
    range a lattice resolves."""
    gaussian: Optional[_GaussianTerm] = None
    bilateral: Optional[_BilateralTerm] = None
    axes = len(spatial)
    extents = np.asarray(spatial, dtype=np.float32) - 1  # the largest coordinate per axis
    if gaussian_compat is not None:
        sig = _positive(gaussian_sigma, names["gaussian_sigma"], axes)
        kind, values = _compat(gaussian_compat, labels, "gaussian_compat")
        _feature_limit(float((extents / np.asarray(sig, np.float32)).max()), axes, names["gaussian_sigma"],
                       f"an image of shape {tuple(spatial)}")
        gaussian = (sig[::-1], None, kind, values)
    if bilateral_compat is not None:
        dims = axes + channels
        if dims > _MAX_FEATURES:
            raise ValueError(f"images have {channels} channels; the bilateral term takes at most "
                             f"{_MAX_FEATURES - axes} (set bilateral_compat=None to leave it out)")
        sig = _positive(bilateral_sigma, names["bilateral_sigma"], axes)
        col = _positive(color_sigma, names["color_sigma"], channels)
        kind, values = _compat(bilateral_compat, labels, "bilateral_compat")
        _feature_limit(float((extents / np.asarray(sig, np.float32)).max()), dims, names["bilateral_sigma"],
                       f"an image of shape {tuple(spatial)}")
        _feature_limit(float((np.asarray(color_range(), np.float32) / np.asarray(col, np.float32)).max()), dims,
                       names["color_sigma"], "the images' values")
        bilateral = (sig[::-1], col, kind, values)
    return gaussian, bilateral


# NumPy input gives NumPy marginals; CuPy arrays and torch tensors give their own type (Any).
# (The overloads go by probs / unary: the result takes their array type.)
@overload
def dense_crf(
    images: Any,
    probs: npt.NDArray[Any],
    *,
    unary: None = None,
    iterations: int = 10,
    gaussian_sigma: Any = 3.0,
    gaussian_compat: Optional[Compat] = 3.0,
    bilateral_sigma: Any = 80.0,
    color_sigma: Any = 13.0,
    bilateral_compat: Optional[Compat] = 10.0,
    normalization: Any = "symmetric",
    spatial_dims: int = 2,
    label_axis: int = -1,
    clip: float = 1e-5,
    threads: int = 0,
) -> npt.NDArray[np.float32]: ...
@overload
def dense_crf(
    images: Any,
    probs: None = None,
    *,
    unary: npt.NDArray[Any],
    iterations: int = 10,
    gaussian_sigma: Any = 3.0,
    gaussian_compat: Optional[Compat] = 3.0,
    bilateral_sigma: Any = 80.0,
    color_sigma: Any = 13.0,
    bilateral_compat: Optional[Compat] = 10.0,
    normalization: Any = "symmetric",
    spatial_dims: int = 2,
    label_axis: int = -1,
    clip: float = 1e-5,
    threads: int = 0,
) -> npt.NDArray[np.float32]: ...
@overload
def dense_crf(
    images: Any,
    probs: Any = None,
    *,
    unary: Any = None,
    iterations: int = 10,
    gaussian_sigma: Any = 3.0,
    gaussian_compat: Optional[Compat] = 3.0,
    bilateral_sigma: Any = 80.0,
    color_sigma: Any = 13.0,
    bilateral_compat: Optional[Compat] = 10.0,
    normalization: Any = "symmetric",
    spatial_dims: int = 2,
    label_axis: int = -1,
    clip: float = 1e-5,
    threads: int = 0,
) -> Any: ...


def dense_crf(
    images: Any,
    probs: Any = None,
    *,
    unary: Any = None,
    iterations: int = 10,
    gaussian_sigma: Any = 3.0,
    gaussian_compat: Optional[Compat] = 3.0,
    bilateral_sigma: Any = 80.0,
    color_sigma: Any = 13.0,
    bilateral_compat: Optional[Compat] = 10.0,
    normalization: Any = "symmetric",
    spatial_dims: int = 2,
    label_axis: int = -1,
    clip: float = 1e-5,
    threads: int = 0,
) -> Any:
    """Refine per-pixel label probabilities with a fully connected CRF.

    Two pairwise terms, as DeepLab uses them (defaults are DeepLab's): a Gaussian over
    positions (``gaussian_sigma`` px, weight ``gaussian_compat``) and a bilateral over
    positions and colours (``bilateral_sigma`` px, ``color_sigma`` per channel,
    ``bilateral_compat``). A compat is a Potts weight, an (L,) diagonal or an (L, L)
    matrix; None leaves the term out. Sigmas are one number or one per spatial axis
    (in array order, e.g. (sigma_y, sigma_x)).

    Args:
        images: (H, W, C) or a batch (B, H, W, C), any channel count, any real dtype
            (uint8 colours as pydensecrf); with ``spatial_dims=3``, volumes (D, H, W, C)
            or (B, D, H, W, C).
        probs: probabilities with the images' spatial shape and a label axis (last by
            default); energies are -log(max(p, clip)). Or give ``unary=`` energies
            (e.g. -log p) in the same layout instead. float32 arrays are read in place
            whatever their strides (a label-first view costs no copy).
        iterations: mean-field updates (at least 1).
        label_axis: where the label axis of probs / unary and of the result is.
        threads: CPU threads (0 = all cores): batches run one image per thread.

    Returns:
        float32 marginals in the layout of ``probs`` / ``unary``, as the caller's array
        type (NumPy, CuPy or torch).

    Raises ValueError where a sigma is so small that position / sigma or colour / sigma
    passes what the lattice resolves (``weaksup._core.max_feature(d)``: about 350,000 for
    the Gaussian term of an image, 70,000 for an RGB bilateral term).
    """
    return _refine(images, probs, unary, iterations, gaussian_sigma, gaussian_compat, bilateral_sigma, color_sigma,
                   bilateral_compat, normalization, spatial_dims, label_axis, clip, threads, _NAMES)


def _dense_crf_dask(images: Any, source: Any, is_probs: bool, spatial_dims: int, options: Dict[str, Any]) -> Any:
    """dense_crf of Dask arrays (or one Dask array and one NumPy array), lazily, batch chunk
    by batch chunk (the images' chunks, each image whole in its chunk)."""
    import dask
    import dask.array as da

    batched = np.ndim(images) == spatial_dims + 2
    imgs = images if _dask.is_dask_array(images) else da.from_array(np.asarray(images), chunks=-1)
    src = source if _dask.is_dask_array(source) else da.from_array(np.asarray(source), chunks=-1)
    if not batched:  # a batch of one: a label axis counted from the front moves by one
        imgs, src = imgs[None], src[None]
        if options["label_axis"] >= 0:
            options = {**options, "label_axis": options["label_axis"] + 1}
    if imgs.shape[0] != src.shape[0]:
        raise ValueError(f"images and {'probs' if is_probs else 'unary'} must have one batch size, got shapes "
                         f"{imgs.shape} and {src.shape}")
    imgs = _dask.batch_chunked(imgs, "images", (imgs.ndim,), "a batch of images")
    src = _dask.batch_chunked(src.rechunk({0: imgs.chunks[0]}), "probs" if is_probs else "unary", (src.ndim,),
                              "a batch of label maps")
    chunk = functools.partial(_chunk_crf, is_probs, options)
    parts = [da.from_delayed(dask.delayed(chunk)(a, b), shape=(size, *src.shape[1:]), dtype=np.float32,
                             meta=np.zeros((0,) * src.ndim, np.float32))
             for a, b, size in zip(imgs.to_delayed().reshape(-1), src.to_delayed().reshape(-1), imgs.chunks[0])]
    _dask.check_workers()
    out = da.concatenate(parts, axis=0)
    return out if batched else out[0]


def _chunk_crf(is_probs: bool, options: Dict[str, Any], images: Any, source: Any) -> Any:
    target = np.asarray(source)
    return _refine(np.asarray(images), target if is_probs else None, None if is_probs else target,
                   threads=1, names=_NAMES, **options)


def _refine(images: Any, probs: Any, unary: Any, iterations: Any, gaussian_sigma: Any, gaussian_compat: Any,
            bilateral_sigma: Any, color_sigma: Any, bilateral_compat: Any, normalization: Any, spatial_dims: Any,
            label_axis: Any, clip: Any, threads: Any, names: Mapping[str, str]) -> Any:
    """dense_crf, with the argument names its errors use (crf_inference has its own)."""
    if (probs is None) == (unary is None):
        raise ValueError("give exactly one of probs= (probabilities) and unary= (energies)")
    source, source_name = (probs, names["probs"]) if probs is not None else (unary, names["unary"])
    spatial_dims = _arrays.check_int(spatial_dims, "spatial_dims", 2, 3)
    iterations = _iterations(iterations, name=names["iterations"])
    norm = _normalization(normalization)
    label_axis = _arrays.check_int(label_axis, "label_axis")
    clip = _clip(clip)
    threads = _arrays.check_threads(threads)
    if _dask.is_dask_array(images) or _dask.is_dask_array(source):
        options = dict(iterations=iterations, gaussian_sigma=gaussian_sigma, gaussian_compat=gaussian_compat,
                       bilateral_sigma=bilateral_sigma, color_sigma=color_sigma, bilateral_compat=bilateral_compat,
                       normalization=normalization, spatial_dims=spatial_dims, label_axis=label_axis, clip=clip)
        return _dense_crf_dask(images, source, probs is not None, spatial_dims, options)
    on_gpu = _arrays.is_cuda_array(images) or _arrays.is_cuda_array(source)
    if on_gpu:
        return _dense_crf_gpu(images, source, source_name, probs is not None, iterations, gaussian_sigma,
                              gaussian_compat, bilateral_sigma, color_sigma, bilateral_compat, norm, spatial_dims,
                              label_axis, clip, names)
    img = np.asarray(_arrays.to_host(images, "images"))
    src = np.asarray(_arrays.to_host(source, source_name))
    img_f, src_l, spatial, batch_shape = _layout(img, src, source_name, spatial_dims, label_axis)
    labels = src_l.shape[-1]
    _arrays.real_dtype(src_l.dtype, source_name)
    # Read in place in any layout (labels first, transposed views): the kernel gathers each
    # point's labels, checks them and takes the log.
    in_place = src_l.dtype == np.float32 and src_l.flags.aligned and all(s % 4 == 0 for s in src_l.strides)
    values = src_l if in_place else np.ascontiguousarray(src_l, dtype=np.float32)
    channel_axes = tuple(range(img_f.ndim - 1))
    gaussian, bilateral = _image_terms(spatial, img_f.shape[-1], labels, gaussian_sigma, gaussian_compat,
                                       bilateral_sigma, color_sigma, bilateral_compat,
                                       lambda: np.abs(img_f).max(axis=channel_axes), names)
    points = int(np.prod(spatial))
    q = _core.dense_crf_images(
        img_f.reshape(-1, points, img_f.shape[-1]), list(spatial), values if batch_shape else values[None],
        probs is not None, float(clip), gaussian, bilateral, norm, iterations, threads,
    )
    out = np.moveaxis(q.reshape(batch_shape + spatial + (labels,)), -1, label_axis)
    return _arrays.like_caller(out, source)


def _layout(
    img: npt.NDArray[Any], src: npt.NDArray[Any], name: str, spatial_dims: int, label_axis: int
) -> Tuple[npt.NDArray[np.float32], npt.NDArray[Any], Tuple[int, ...], Tuple[int, ...]]:
    """Validated (images float32 (..., C), src with labels last, spatial shape, batch shape)."""
    if img.ndim not in (spatial_dims + 1, spatial_dims + 2):
        raise ValueError(
            f"images must be ({'D, ' if spatial_dims == 3 else ''}H, W, C) or with a leading batch axis; "
            f"got shape {img.shape} (set spatial_dims=3 for volumes)"
        )
    if src.ndim != img.ndim:
        raise ValueError(f"{name} has {src.ndim} dimensions, images {img.ndim}: they need the same layout")
    if not -src.ndim <= label_axis < src.ndim:
        raise ValueError(f"label_axis {label_axis} is out of range for {name} with {src.ndim} dimensions")
    src = np.moveaxis(src, label_axis, -1)
    if img.shape[:-1] != src.shape[:-1]:
        raise ValueError(
            f"images {img.shape} and {name} {src.shape} (label axis moved last) must share batch and spatial shape"
        )
    if src.size == 0 or img.size == 0:
        raise ValueError(f"images and {name} must not be empty, got shapes {img.shape} and {src.shape}")
    if not 2 <= src.shape[-1] <= _MAX_LABELS:
        raise ValueError(f"{name} needs 2 to {_MAX_LABELS} labels along label_axis, got {src.shape[-1]}")
    if max(img.size, src.size) > _MAX_ELEMENTS:
        raise ValueError("images or probabilities past 2^31 elements; run the batch in parts")
    img_f = _arrays.finite_float32(img, "images")
    spatial = tuple(img.shape[img.ndim - 1 - spatial_dims : -1])
    batch_shape = tuple(img.shape[: img.ndim - 1 - spatial_dims])
    return img_f, src, spatial, batch_shape


def _dense_crf_gpu(images: Any, source: Any, name: str, is_probs: bool, iterations: int, gaussian_sigma: Any,
                   gaussian_compat: Any, bilateral_sigma: Any, color_sigma: Any, bilateral_compat: Any, norm: int,
                   spatial_dims: int, label_axis: int, clip: float, names: Mapping[str, str]) -> Any:
    if not (_arrays.is_cuda_array(images) and _arrays.is_cuda_array(source)):
        raise TypeError(f"images and {name} must both be CUDA arrays or both host arrays")
    with Device(source, name) as dev:
        img = dev.wrap(images)
        src = dev.wrap(source)
        xp = dev.torch if dev.torch is not None else dev.cupy
        ndim = len(src.shape)
        if len(img.shape) != ndim or len(img.shape) not in (spatial_dims + 1, spatial_dims + 2):
            raise ValueError(f"images {tuple(img.shape)} and {name} {tuple(src.shape)} need the same layout")
        if not -ndim <= label_axis < ndim:
            raise ValueError(f"label_axis {label_axis} is out of range for {name}")
        src = xp.moveaxis(src, label_axis, -1)
        if tuple(img.shape[:-1]) != tuple(src.shape[:-1]) or 0 in tuple(src.shape) or 0 in tuple(img.shape):
            raise ValueError(f"images {tuple(img.shape)} and {name} {tuple(src.shape)} must share a non-empty shape")
        labels = int(src.shape[-1])
        if not 2 <= labels <= _MAX_LABELS:
            raise ValueError(f"{name} needs 2 to {_MAX_LABELS} labels along label_axis, got {labels}")
        f32 = dev.torch.float32 if dev.torch is not None else np.float32
        img = dev.contiguous(img.to(f32) if dev.torch is not None else img.astype(np.float32))
        src = dev.contiguous(src.to(f32) if dev.torch is not None else src.astype(np.float32))
        if not bool(xp.isfinite(img).all()) or not bool(xp.isfinite(src).all()):
            raise ValueError(f"images or {name} contain NaN or infinity")
        if is_probs:
            if bool((src < 0).any()):
                raise ValueError(f"{name} has negative values; pass probabilities (or energies as unary=)")
            energies = dev.contiguous(-xp.log(xp.clip(src, clip, 1.0)))
        else:
            energies = src
        spatial = tuple(int(s) for s in img.shape[len(img.shape) - 1 - spatial_dims : -1])
        batch_shape = tuple(int(s) for s in img.shape[: len(img.shape) - 1 - spatial_dims])
        channel_axes = tuple(range(len(img.shape) - 1))
        def color_range() -> npt.NDArray[Any]:
            return dev.to_host(xp.abs(img).amax(dim=channel_axes) if dev.torch is not None
                               else xp.abs(img).max(axis=channel_axes))

        gaussian, bilateral = _image_terms(spatial, int(img.shape[-1]), labels, gaussian_sigma, gaussian_compat,
                                           bilateral_sigma, color_sigma, bilateral_compat, color_range, names)
        def as_gpu(t: Union[_GaussianTerm, _BilateralTerm, None]) -> Optional[Tuple[Any, ...]]:
            if t is None:  # (the binding takes plain lists)
                return None
            return (t[0], t[2], t[3].tolist()) if t[1] is None else (t[0], t[1], t[2], t[3].tolist())

        points = int(np.prod(spatial))
        batch = int(np.prod(batch_shape)) if batch_shape else 1
        q = dev.empty(batch_shape + spatial + (labels,), np.float32)
        dev.module.dense_crf_images(
            dev.ptr(img), batch, list(spatial), int(img.shape[-1]), dev.ptr(energies), labels, as_gpu(gaussian),
            as_gpu(bilateral), norm, iterations, dev.ptr(q), dev.stream,
        )
        return xp.moveaxis(q, -1, label_axis)


@overload
def crf_labels(q: npt.NDArray[Any], label_axis: int = -1) -> npt.NDArray[np.int64]: ...
@overload
def crf_labels(q: Any, label_axis: int = -1) -> Any: ...


def crf_labels(q: Any, label_axis: int = -1) -> Any:
    """The most likely label per pixel (argmax over the label axis), as int64."""
    label_axis = _arrays.check_int(label_axis, "label_axis")
    if _arrays.is_cuda_array(q):
        return q.argmax(label_axis) if hasattr(q, "argmax") else q.argmax(axis=label_axis)
    arr = np.asarray(_arrays.to_host(q, "q"))
    _arrays.real_dtype(arr.dtype, "q")
    if not -arr.ndim <= label_axis < max(arr.ndim, 1) or arr.ndim == 0:
        raise ValueError(f"label_axis {label_axis} is out of range for q of shape {arr.shape}")
    if arr.shape[label_axis] == 0:
        raise ValueError(f"q has no labels along label_axis (shape {arr.shape})")
    return _arrays.like_caller(arr.argmax(axis=label_axis).astype(np.int64), q)


@overload
def crf_inference(image: Any, unary: npt.NDArray[Any], maxiter: int = 10, scale_factor: float = 1.0,
                  color_factor: float = 13.0, *, threads: int = 0) -> npt.NDArray[np.float32]: ...
@overload
def crf_inference(image: Any, unary: Any, maxiter: int = 10, scale_factor: float = 1.0, color_factor: float = 13.0,
                  *, threads: int = 0) -> Any: ...


def crf_inference(image: Any, unary: Any, maxiter: int = 10, scale_factor: float = 1.0, color_factor: float = 13.0,
                  *, threads: int = 0) -> Any:
    """SEC's CRF (Kolesnikov & Lampert 2016, ``krahenbuhl2013.CRF``): image (H, W, 3),
    unary (H, W, L) class probabilities -> refined (H, W, L) probabilities. Bilateral
    sxy = 80 / scale_factor, srgb = color_factor, compat 10; Gaussian sxy = 3 / scale_factor,
    compat 3. SEC calls it on 41x41 maps with scale_factor=12. Pass a batch (B, H, W, 3)
    and (B, H, W, L) to run many maps at once."""
    scale_factor = _arrays.check_real(scale_factor, "scale_factor", 0.0, low_open=True)
    color_factor = _arrays.check_real(color_factor, "color_factor", 0.0, low_open=True)
    names = {"probs": "unary (probabilities)", "unary": "unary", "gaussian_sigma": "3 / scale_factor",
             "bilateral_sigma": "80 / scale_factor", "color_sigma": "color_factor", "iterations": "maxiter"}
    return _refine(image, unary, None, maxiter, 3.0 / scale_factor, 3.0, 80.0 / scale_factor, color_factor, 10.0,
                   "symmetric", 2, -1, 1e-5, threads, names)
