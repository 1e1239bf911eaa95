"""Connected components of binary masks, their statistics, and CAM -> box.

Layouts (the connectivity says which one an array is):

* connectivity 4 or 8: ``(H, W)`` one image, ``(B, H, W)`` a batch of images;
* connectivity 6, 18 or 26: ``(D, H, W)`` one volume, ``(B, D, H, W)`` a batch of volumes.

Every image or volume of a batch is labelled on its own (labels never cross images).
Components are numbered ``1..K`` in raster order of their first pixel (``0`` is
background): the order ``scipy.ndimage.label`` gives after canonical relabeling.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal, Optional, Tuple, Union, cast, overload

import numpy as np
import numpy.typing as npt

from . import _arrays, _core, _dask
from ._arrays import Device

# A label image of a NumPy mask: int32, int64 when an image or volume has 2^31 pixels or more.
LabelImage = npt.NDArray[Union[np.int32, np.int64]]
# The component count: an int for one image or volume, a (B,) int64 array for a batch (the
# layout, not the type, tells which; typed Any so that either use needs no cast).
Count = Any

_CONNECTIVITY_2D = (4, 8)
_CONNECTIVITY_3D = (6, 18, 26)
_CONNECTIVITIES = {c: c for c in _CONNECTIVITY_2D + _CONNECTIVITY_3D}
_NORMALIZATIONS = {"minmax": 2, "max": 1, None: 0, "none": 0}


@dataclasses.dataclass(frozen=True)
class Components:
    """Statistics of the components of an image, volume or batch (one row each).

    Rows are grouped by image (``image`` is the index of the row's image in the batch,
    0 for a single image) and follow label order within an image, so the component with
    label ``k`` of image ``b`` is row ``offsets[b] + k - 1``.

    Attributes:
        area: (K,) int64 pixel counts.
        bbox: (K, 4) int64 ``x0, y0, x1, y1`` for images, (K, 6) ``x0, y0, z0, x1, y1, z1``
            for volumes; inclusive coordinates.
        centroid: (K, 2) float64 ``x, y`` (or (K, 3) ``x, y, z``): mean pixel coordinates.
        image: (K,) int64 index of each component's image.
        counts: (B,) int64 number of components per image.
    """

    area: Any
    bbox: Any
    centroid: Any
    image: Any
    counts: Any

    @property
    def offsets(self) -> npt.NDArray[np.int64]:
        """(B + 1,) int64: rows of image b are offsets[b] .. offsets[b + 1] - 1."""
        counts = np.asarray(_host(self.counts))
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.area.shape[0])

    def largest(self, k: int = 1) -> "Components":
        """The k largest components of each image (fewer where an image has fewer).

        Rows are ordered by image, then by decreasing area; equal areas keep label order.
        """
        k = _arrays.check_int(k, "k", 1)
        area, image = np.asarray(_host(self.area)), np.asarray(_host(self.image))
        keep = _largest_rows(area, image, self.offsets, k)
        counts = np.minimum(np.asarray(_host(self.counts)), min(k, len(area)))
        return Components(
            area=_like(area[keep], self.area),
            bbox=_like(np.asarray(_host(self.bbox))[keep], self.bbox),
            centroid=_like(np.asarray(_host(self.centroid))[keep], self.centroid),
            image=_like(image[keep], self.image),
            counts=_like(counts, self.counts),
        )


def _host(x: Any) -> npt.NDArray[Any]:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get"):  # CuPy
        return cast(npt.NDArray[Any], x.get())
    if hasattr(x, "cpu"):  # torch
        return cast(npt.NDArray[Any], x.cpu().numpy())
    return np.asarray(x)


def _largest_rows(
    area: npt.NDArray[np.int64], image: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], k: int
) -> npt.NDArray[np.intp]:
    """Rows of the k largest components of each image: by image, decreasing area, label."""
    k = min(k, len(area))  # a larger k keeps every row (and 2**70 would overflow NumPy's int64)
    order = np.lexsort((np.arange(len(area)), -area, image))
    rank = np.arange(len(order)) - offsets[image[order]]
    return order[rank < k]


def _like(host: npt.NDArray[Any], template: Any) -> Any:
    if isinstance(template, np.ndarray):
        return host
    if hasattr(template, "get"):
        import cupy

        return cupy.asarray(host)
    import torch

    return torch.from_numpy(np.ascontiguousarray(host)).to(template.device)


def _layout(shape: Tuple[int, ...], connectivity: Any, name: str) -> Tuple[int, bool]:
    """(batch size, whether the input was batched) for a mask of this shape."""
    if connectivity in _CONNECTIVITY_2D:
        _arrays.check_shape(shape, name, (2, 3), "(H, W) or a batch (B, H, W) for connectivity 4/8")
        return (shape[0], True) if len(shape) == 3 else (1, False)
    _arrays.check_shape(shape, name, (3, 4), "(D, H, W) or a batch (B, D, H, W) for connectivity 6/18/26")
    return (shape[0], True) if len(shape) == 4 else (1, False)


# (labels or None, the count, the statistics or None, the caller's mask)
_CpuLabel = Tuple[Optional[LabelImage], Count, Optional["Components"], Any]
# (labels or None, the count, the statistics or None), labels in the caller's array type
_Labelled = Tuple[Any, Count, Optional["Components"]]


def _cpu_label(mask: Any, connectivity: int, want_labels: bool, want_stats: bool, threads: int) -> _CpuLabel:
    arr = _arrays.to_host(mask, "mask")
    batch, batched = _layout(arr.shape, connectivity, "mask")
    m = _arrays.mask_as_uint8(arr, "mask")
    volume = m.shape[-3:] if connectivity in _CONNECTIVITY_3D else (1,) + m.shape[-2:]
    out = _core.label(m.reshape((batch,) + tuple(volume)), connectivity, want_labels, want_stats, threads)
    labels = out[0].reshape(arr.shape) if out[0] is not None else None  # None exactly without want_labels
    counts = out[1]
    stats = None
    if len(out) == 6:  # with want_stats
        _, _, area, box, centroid, image = out
        if connectivity in _CONNECTIVITY_2D:
            box, centroid = box[:, [0, 1, 3, 4]], centroid[:, :2]
        stats = Components(area, np.ascontiguousarray(box), np.ascontiguousarray(centroid), image, counts)
    count = counts if batched else int(counts[0])
    return labels, count, stats, mask


def _cuda_label(mask: Any, connectivity: int, want_labels: bool, want_stats: bool) -> _Labelled:
    if connectivity not in _CONNECTIVITY_2D:
        raise ValueError(
            f"connectivity {connectivity} (3-D volumes) runs on the CPU only; pass a NumPy array, "
            "or use connectivity 4/8 for CUDA images"
        )
    with Device(mask, "mask") as dev:
        m = dev.contiguous(dev.wrap(mask))
        shape = tuple(m.shape)
        batch, batched = _layout(shape, connectivity, "mask")
        dtype = dev.dtype(m)
        if dtype == np.bool_ or dtype == np.int8:
            m = m.view(dev.torch.uint8 if dev.torch is not None else np.uint8)
        elif dtype != np.uint8:
            _arrays.real_dtype(dtype, "mask")
            m = (m != 0).view(dev.torch.uint8 if dev.torch is not None else np.uint8)
        h, w = shape[-2:]
        if h * w > _arrays._INT32_MAX:
            raise ValueError(f"mask images of more than 2^31 - 1 pixels are not supported on CUDA (shape {shape})")
        labels = dev.empty((batch, h, w), np.int32)
        counts = dev.empty((batch,), np.int64)
        dev.module.label(dev.ptr(m), dev.ptr(labels), dev.ptr(counts), batch, h, w, connectivity, dev.stream)
        stats = None
        if want_stats:
            counts_host = dev.to_host(counts)
            offsets_host = np.concatenate([[0], np.cumsum(counts_host)]).astype(np.int64)
            total = int(offsets_host[-1])
            offsets = dev.asarray(offsets_host)
            area = dev.empty((total,), np.int64)
            box = dev.empty((total, 4), np.int64)
            centroid = dev.empty((total, 2), np.float64)
            dev.module.component_stats(
                dev.ptr(labels), batch, h, w, dev.ptr(offsets), dev.ptr(area), dev.ptr(box), dev.ptr(centroid),
                dev.stream,
            )
            image = dev.asarray(np.repeat(np.arange(batch, dtype=np.int64), counts_host))
            stats = Components(area, box, centroid, image, counts)
        labels = labels.reshape(shape)
        count = counts if batched else int(dev.to_host(counts)[0])
        return (labels if want_labels else None), count, stats


def _run(mask: Any, connectivity: Any, want_labels: bool, want_stats: bool, threads: Any) -> _Labelled:
    threads = _arrays.check_threads(threads)
    connectivity = _arrays.check_choice(
        connectivity, "connectivity (4 or 8 for images, 6, 18 or 26 for volumes)", _CONNECTIVITIES)
    want_labels, want_stats = bool(want_labels), _arrays.check_bool(want_stats, "return_stats")
    if _arrays.is_cuda_array(mask):
        return _cuda_label(mask, connectivity, want_labels, want_stats)
    labels, count, stats, caller = _cpu_label(mask, connectivity, want_labels, want_stats, threads)
    return (None if labels is None else _arrays.like_caller(labels, caller)), count, stats


# NumPy masks give NumPy labels; CuPy arrays and torch tensors give their own type (Any).
@overload
def label(
    mask: npt.NDArray[Any], connectivity: int = 8, *, return_stats: Literal[False] = False, threads: int = 0
) -> Tuple[LabelImage, Count]: ...
@overload
def label(
    mask: npt.NDArray[Any], connectivity: int = 8, *, return_stats: Literal[True], threads: int = 0
) -> Tuple[LabelImage, Count, Components]: ...
@overload
def label(
    mask: Any, connectivity: int = 8, *, return_stats: Literal[False] = False, threads: int = 0
) -> Tuple[Any, Count]: ...
@overload
def label(
    mask: Any, connectivity: int = 8, *, return_stats: Literal[True], threads: int = 0
) -> Tuple[Any, Count, Components]: ...
@overload
def label(
    mask: Any, connectivity: int = 8, *, return_stats: bool = False, threads: int = 0
) -> Union[Tuple[Any, Count], Tuple[Any, Count, Components]]: ...


def label(
    mask: Any, connectivity: int = 8, *, return_stats: bool = False, threads: int = 0
) -> Union[Tuple[Any, Count], Tuple[Any, Count, Components]]:
    """Label the connected components of a binary image, volume or batch.

    Args:
        mask: nonzero = foreground; bool, integer or float. Shapes as in the module doc:
            ``(H, W)`` / ``(B, H, W)`` for connectivity 4 or 8, ``(D, H, W)`` /
            ``(B, D, H, W)`` for 6, 18 or 26. Any strides; never modified.
        connectivity: 4 or 8 (2-D), 6, 18 or 26 (3-D).
        return_stats: also return the components' :class:`Components`, computed in the
            same pass over runs of foreground pixels.
        threads: CPU threads for batches (0 = all cores).

    Returns:
        ``(labels, count)`` or ``(labels, count, stats)``. ``labels`` has the mask's shape,
        int32 (int64 when one image or volume has 2^31 pixels or more); ``count`` is an
        int for a single image or volume, a (B,) int64 array for a batch.
    """
    if _dask.is_dask_array(mask):
        return _dask_label(mask, connectivity, return_stats)
    labels, count, stats = _run(mask, connectivity, True, return_stats, threads)
    if return_stats:
        assert stats is not None
        return labels, count, stats
    return labels, count


def component_stats(mask: Any, connectivity: int = 8, *, threads: int = 0) -> Components:
    """Statistics of every component without materializing a label image.

    Same arguments as :func:`label`; returns :class:`Components`.
    """
    if _dask.is_dask_array(mask):
        return _dask_stats(mask, connectivity)
    stats = _run(mask, connectivity, False, True, threads)[2]
    assert stats is not None  # asked for (want_stats)
    return stats


def _dask_batch(mask: Any, connectivity: Any) -> Tuple[Any, bool]:
    """A Dask mask as a batch chunked along it (a single image or volume as a batch of
    one), and whether it was batched."""
    _, batched = _layout(tuple(mask.shape), connectivity, "mask")
    batch = mask if batched else mask[None]
    return _dask.batch_chunked(batch, "mask", (batch.ndim,), "a batch of masks"), batched


def _dask_label(mask: Any, connectivity: int,
                return_stats: bool) -> Union[Tuple[Any, Count], Tuple[Any, Count, Components]]:
    """label() of a Dask mask: labels and counts lazily, chunk by chunk (labels are per
    image, so chunks need no renumbering); the statistics computed."""
    batch, batched = _dask_batch(mask, connectivity)
    labels = batch.map_blocks(functools.partial(_chunk_labels, connectivity), dtype=np.int32,
                              meta=np.zeros((0,) * batch.ndim, np.int32))
    counts = _dask.per_batch(batch, functools.partial(_chunk_counts, connectivity), (), np.int64)
    labels, counts = (labels, counts) if batched else (labels[0], counts[0])
    if return_stats:
        return labels, counts, _dask_stats(mask, connectivity)
    return labels, counts


def _dask_stats(mask: Any, connectivity: int) -> Components:
    """component_stats() of a Dask mask: each chunk's rows, their image indices shifted to
    the whole batch (rows stay grouped by image, in order)."""
    batch, batched = _dask_batch(mask, connectivity)
    chunk = functools.partial(_chunk_stats, connectivity)
    parts = _dask.gather_batches(batch, chunk)
    starts = np.concatenate([[0], np.cumsum(batch.chunks[0])[:-1]]).astype(np.int64)
    area = np.concatenate([p[0] for p in parts])
    bbox = np.concatenate([p[1] for p in parts])
    centroid = np.concatenate([p[2] for p in parts])
    image = np.concatenate([p[3] + start for p, start in zip(parts, starts)])
    counts = np.concatenate([p[4] for p in parts])
    return Components(area, bbox, centroid, image, counts if batched else counts[:1])


def _chunk_labels(connectivity: int, block: npt.NDArray[Any]) -> Any:
    return label(np.asarray(block), connectivity, threads=1)[0]


def _chunk_counts(connectivity: int, block: npt.NDArray[Any]) -> Any:
    return label(np.asarray(block), connectivity, threads=1)[1]


def _chunk_stats(connectivity: int, block: npt.NDArray[Any]) -> Tuple[Any, ...]:
    c = component_stats(np.asarray(block), connectivity, threads=1)
    return c.area, c.bbox, c.centroid, c.image, np.asarray(c.counts).reshape(-1)


def largest_components(mask: Any, k: int = 1, connectivity: int = 8, *, threads: int = 0) -> Components:
    """The k largest components of each image: ``component_stats(...).largest(k)``."""
    return component_stats(mask, connectivity, threads=threads).largest(k)


def keep_largest(mask: Any, k: int = 1, connectivity: int = 8, *, threads: int = 0) -> npt.NDArray[np.bool_]:
    """A boolean mask keeping only the k largest components of each image (NumPy arrays)."""
    if _arrays.is_cuda_array(mask):
        raise TypeError("keep_largest runs on the CPU; pass mask as a NumPy array")
    k = _arrays.check_int(k, "k", 1)
    labels, _, stats = label(mask, connectivity, return_stats=True, threads=threads)
    labels = np.asarray(labels)
    offsets = stats.offsets
    keep = np.zeros(len(stats) + 1, dtype=bool)
    keep[_largest_rows(stats.area, stats.image, offsets, k) + 1] = True  # row r is global label r + 1
    per_image = labels.reshape(len(offsets) - 1, -1)
    global_labels = np.where(per_image > 0, per_image + offsets[:-1, None], 0)
    return keep[global_labels].reshape(labels.shape)


# NumPy maps give NumPy boxes; CuPy arrays and torch tensors give their own type (Any).
@overload
def cam_to_boxes(
    cams: npt.NDArray[Any],
    threshold: float = 0.2,
    *,
    normalize: Union[str, None] = "minmax",
    connectivity: int = 8,
    threads: int = 0,
) -> npt.NDArray[np.int64]: ...
@overload
def cam_to_boxes(
    cams: Any,
    threshold: float = 0.2,
    *,
    normalize: Union[str, None] = "minmax",
    connectivity: int = 8,
    threads: int = 0,
) -> Any: ...


def cam_to_boxes(
    cams: Any,
    threshold: float = 0.2,
    *,
    normalize: Union[str, None] = "minmax",
    connectivity: int = 8,
    threads: int = 0,
) -> Any:
    """Box of the largest connected component of each thresholded CAM.

    The classic CAM recipe (Zhou et al. 2016): normalize each map, keep the pixels above
    ``threshold``, label 8-connected components, return the tight box of the largest.

    Args:
        cams: (H, W) or (B, H, W) float maps (float32/float64 used as they are, other
            real dtypes as float64); NaN and infinity are rejected.
        threshold: with ``normalize="minmax"`` a pixel is foreground when
            ``(v - min) / (max - min) > threshold``; with ``"max"`` when
            ``v / max > threshold``; with ``None`` when ``v > threshold`` (absolute). The
            comparison is made in float64, exactly as NumPy would evaluate it.
        normalize: ``"minmax"`` (default), ``"max"`` or ``None``.
        connectivity: 4 or 8.
        threads: CPU threads (0 = all cores).

    Returns:
        int64 boxes ``x0, y0, x1, y1`` (inclusive), shape (B, 4) or (4,). The largest
        component wins, the first in raster order among equal areas. A map without
        foreground (constant under "minmax", max <= 0 under "max", nothing above an
        absolute threshold) gets the empty box ``[-1, -1, -1, -1]``.
    """
    mode = _arrays.check_choice(normalize, "normalize", _NORMALIZATIONS)
    if mode == 0:  # an absolute threshold
        threshold = _arrays.check_real(threshold, "threshold (absolute, with normalize=None)")
    else:
        threshold = _arrays.check_fraction(threshold, f"threshold (a fraction, with normalize={normalize!r})")
    connectivity = _arrays.check_choice(connectivity, "connectivity (for CAMs)", {4: 4, 8: 8})
    threads = _arrays.check_threads(threads)
    if _dask.is_dask_array(cams):  # lazily, batch chunk by batch chunk
        one_map = cams.ndim == 2
        c = _dask.batch_chunked(cams[None] if one_map else cams, "cams", (3,), "(H, W) or a batch (B, H, W)")
        chunk_boxes = functools.partial(cam_to_boxes, threshold=threshold, normalize=normalize,
                                        connectivity=connectivity, threads=1)
        boxes = _dask.per_batch(c, chunk_boxes, (4,), np.int64)
        return boxes[0] if one_map else boxes
    if _arrays.is_cuda_array(cams):
        with Device(cams, "cams") as dev:
            c = dev.contiguous(dev.wrap(cams))
            shape = tuple(c.shape)
            _arrays.check_shape(shape, "cams", (2, 3), "(H, W) or a batch (B, H, W)")
            dtype = dev.dtype(c)
            _arrays.real_dtype(dtype, "cams")
            if dtype not in (np.float32, np.float64):
                c = c.double() if dev.torch is not None else c.astype(np.float64)
                dtype = np.dtype(np.float64)
            batch = shape[0] if len(shape) == 3 else 1
            boxes = dev.empty((batch, 4), np.int64)
            dev.module.cam_to_boxes(
                dev.ptr(c), int(dtype == np.float64), batch, shape[-2], shape[-1], threshold, mode, connectivity,
                dev.ptr(boxes), dev.stream,
            )
            return boxes if len(shape) == 3 else boxes[0]
    arr = _arrays.to_host(cams, "cams")
    _arrays.check_shape(arr.shape, "cams", (2, 3), "(H, W) or a batch (B, H, W)")
    c = _arrays.float_array(arr, "cams")
    batched = c.ndim == 3
    c3 = c if batched else c[None]
    boxes = _core.cam_to_boxes(c3, threshold, mode, connectivity, threads)
    return _arrays.like_caller(boxes if batched else boxes[0], cams)
