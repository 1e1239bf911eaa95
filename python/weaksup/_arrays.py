"""Array dispatch and input validation shared by every public function.

NumPy arrays (and anything ``numpy.asarray`` accepts) run the C++ kernels. CuPy arrays,
torch CUDA tensors and any object exposing ``__cuda_array_interface__`` or a CUDA
``__dlpack__`` run the CUDA kernels on the caller's current stream, without copies to
the host; results come back as the caller's array type.
"""

from __future__ import annotations

import functools
import numbers
import os
from typing import Any, Mapping, Optional, Tuple, TypeVar, cast

import numpy as np
import numpy.typing as npt

_INT32_MAX = 2**31 - 1
_DLPACK_CUDA = 2  # kDLCUDA


# ---------------------------------------------------------------- CUDA module


@functools.lru_cache(maxsize=None)
def _load_cuda() -> Optional[Any]:
    if os.environ.get("WEAKSUP_DISABLE_CUDA"):
        return None
    try:
        from . import _cuda
    except ImportError:
        return None
    return _cuda


def cuda_built() -> bool:
    """True when this installation includes the CUDA extension."""
    return _load_cuda() is not None


def cuda_available() -> bool:
    """True when the CUDA extension is built and at least one GPU can run it."""
    mod = _load_cuda()
    return mod is not None and mod.device_count() > 0


def cuda_module(name: str) -> Any:
    mod = _load_cuda()
    if mod is None:
        raise TypeError(
            f"{name} is a CUDA array but this weaksup was built without CUDA support; "
            "reinstall with nvcc on PATH (WEAKSUP_CUDA=ON pip install weaksup) or pass a "
            f"NumPy array instead (e.g. cupy.asnumpy({name}) or {name}.cpu().numpy())"
        )
    if mod.device_count() == 0:
        raise TypeError(
            f"{name} is a CUDA array but no CUDA device is usable by weaksup (driver missing or "
            f"too old); pass a NumPy array instead"
        )
    return mod


# ---------------------------------------------------------------- array kinds


def _torch_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "is_cuda")


def is_cuda_array(x: Any) -> bool:
    """Whether x lives on a CUDA device (CuPy, torch CUDA, CAI or CUDA DLPack)."""
    if isinstance(x, np.ndarray):
        return False
    if _torch_tensor(x):
        return bool(x.is_cuda)
    if hasattr(x, "__cuda_array_interface__"):
        return True
    if hasattr(x, "__dlpack_device__"):
        try:
            return bool(x.__dlpack_device__()[0] == _DLPACK_CUDA)
        except Exception:
            return False
    return False


def to_host(x: Any, name: str) -> np.ndarray:
    """NumPy view or copy of a host array in native byte order; TypeError for what cannot
    become one."""
    if isinstance(x, np.ndarray):
        arr = x
    elif _torch_tensor(x):
        arr = x.detach().numpy()
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:
            raise TypeError(f"{name} must be an array (NumPy, CuPy or torch), got {type(x).__name__}") from exc
    if arr.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__} of Python objects")
    if not arr.dtype.isnative:  # big-endian data: the kernels read native numbers
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if not arr.flags.aligned:  # e.g. a float view at an odd byte offset: C++ may not read it
        arr = arr.copy()
    return arr


def like_caller(result: np.ndarray, caller: Any) -> Any:
    """Return a host result as the caller's array type (torch CPU tensors stay torch)."""
    if _torch_tensor(caller):
        import torch

        return torch.from_numpy(result)
    return result


class Device:
    """The framework owning a CUDA argument: allocates outputs and names the stream."""

    def __init__(self, x: Any, name: str):
        self.name = name
        self.module = cuda_module(name)
        # The frameworks are optional and untyped here: exactly one of the two is set.
        self.torch: Any
        self.cupy: Any
        if _torch_tensor(x):
            import torch

            self.torch = torch
            self.cupy = None
            self.device_index = x.device.index if x.device.index is not None else torch.cuda.current_device()
        else:
            try:
                import cupy
            except ImportError as exc:
                raise TypeError(
                    f"{name} is a CUDA array that is neither CuPy nor torch; install CuPy "
                    "(pip install weaksup[cuda]) so weaksup can wrap it"
                ) from exc
            self.torch = None
            self.cupy = cupy
            self.device_index = int(cupy.asarray(x).device.id) if hasattr(x, "__cuda_array_interface__") else 0

    def __enter__(self) -> "Device":
        if self.torch is not None:
            self._ctx = self.torch.cuda.device(self.device_index)
        else:
            self._ctx = self.cupy.cuda.Device(self.device_index)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)

    @property
    def stream(self) -> int:
        if self.torch is not None:
            return int(self.torch.cuda.current_stream().cuda_stream)
        return int(self.cupy.cuda.get_current_stream().ptr)

    def wrap(self, x: Any) -> Any:
        """The caller's array as this framework's array (zero-copy)."""
        if self.torch is not None:
            return x
        if isinstance(x, self.cupy.ndarray):
            return x
        if hasattr(x, "__cuda_array_interface__"):
            return self.cupy.asarray(x)
        return self.cupy.from_dlpack(x)

    def contiguous(self, x: Any) -> Any:
        return x.contiguous() if self.torch is not None else self.cupy.ascontiguousarray(x)

    def empty(self, shape: Tuple[int, ...], dtype: Any) -> Any:
        if self.torch is not None:
            tdtype = {
                np.dtype(np.uint8): self.torch.uint8,
                np.dtype(np.int32): self.torch.int32,
                np.dtype(np.int64): self.torch.int64,
                np.dtype(np.float32): self.torch.float32,
                np.dtype(np.float64): self.torch.float64,
            }[np.dtype(dtype)]
            return self.torch.empty(shape, dtype=tdtype, device=f"cuda:{self.device_index}")
        return self.cupy.empty(shape, dtype=dtype)

    def asarray(self, host: np.ndarray) -> Any:
        """Copy a small host array (thresholds, boxes) to the device."""
        if self.torch is not None:
            return self.torch.from_numpy(np.ascontiguousarray(host)).to(f"cuda:{self.device_index}")
        return self.cupy.asarray(np.ascontiguousarray(host))

    def to_host(self, x: Any) -> np.ndarray:
        return cast(np.ndarray, x.cpu().numpy() if self.torch is not None else self.cupy.asnumpy(x))

    @staticmethod
    def ptr(x: Any) -> int:
        if hasattr(x, "data_ptr"):
            return int(x.data_ptr())
        return int(x.data.ptr)

    def dtype(self, x: Any) -> np.dtype[Any]:
        if self.torch is not None:
            return np.dtype(str(x.dtype).replace("torch.", ""))
        return cast("np.dtype[Any]", np.dtype(x.dtype))


# ---------------------------------------------------------------- validation


# The most threads a call may ask for: far more than any machine has cores, far fewer
# than the operating system would refuse to create.
MAX_THREADS = 1024


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_int(value: Any, name: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """A Python or NumPy integer (not a bool, not a float) in [low, high]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        span = f"in [{low}, {high}]" if low is not None and high is not None else (
            f"at least {low}" if low is not None else f"at most {high}")
        raise ValueError(f"{name} must be an integer {span}, got {number}")
    return number


def check_real(value: Any, name: str, low: Optional[float] = None, high: Optional[float] = None, *,
               low_open: bool = False) -> float:
    """A finite real number (not a bool, not a string) in [low, high] ((low, high] with low_open)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_describe(value)}")
    number = float(value)
    below = low is not None and (number <= low if low_open else number < low)
    if not np.isfinite(number) or below or (high is not None and number > high):
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        span = f"{'(' if low_open or low is None else '['}{lo}, {hi}{']' if high is not None else ')'}"
        raise ValueError(f"{name} must be a finite number in {span}, got {number!r}")
    return number


def _same_kind(value: Any, key: Any) -> bool:
    """Whether value may stand for key: 8 and np.int64(8) for 8, but not 8.0, True or "8"."""
    if key is None or isinstance(key, str):
        return type(value) is type(key) or (isinstance(key, str) and isinstance(value, str))
    if isinstance(key, int):
        return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    return type(value) is type(key)


_T = TypeVar("_T")


def check_choice(value: Any, name: str, choices: Mapping[Any, _T]) -> _T:
    """choices[key] for the key value stands for; the keys are listed otherwise."""
    for key, choice in choices.items():
        if _same_kind(value, key) and value == key:
            return choice
    raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {_describe(value)}")


def check_bool(value: Any, name: str) -> bool:
    """True / False (NumPy booleans and the integers 0 and 1 too)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {_describe(value)}")


def check_str(value: Any, name: str, meaning: str = "a string") -> str:
    """A str (free text: a device name, a path inside a config)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {meaning}, got {_describe(value)}")
    return value


def check_numbers(values: Any, name: str, meaning: str) -> npt.NDArray[np.float64]:
    """A 1-D float64 array from a scalar or a sequence of real numbers."""
    try:
        arr = np.asarray(values)
    except Exception as exc:
        raise TypeError(f"{name} must be {meaning}, got {type(values).__name__}") from exc
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be {meaning}, got {_describe(values)}")
    return np.atleast_1d(arr.astype(np.float64))


def check_threads(threads: Any) -> int:
    """CPU threads: 0 (all cores) up to MAX_THREADS."""
    return check_int(threads, "threads (0 = all cores)", 0, MAX_THREADS)


def check_shape(shape: Tuple[int, ...], name: str, ndims: Tuple[int, ...], meaning: str) -> None:
    if len(shape) not in ndims:
        raise ValueError(f"{name} must be {meaning}; got an array of shape {tuple(shape)}")
    if len(shape) and any(s == 0 for s in shape):
        raise ValueError(f"{name} is empty (shape {tuple(shape)}); pass at least one non-empty image")
    if shape and shape[-1] > _INT32_MAX:
        raise ValueError(f"{name} rows longer than {_INT32_MAX} pixels are not supported (shape {tuple(shape)})")


def real_dtype(dtype: np.dtype, name: str) -> None:
    if dtype == np.bool_ or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(f"{name} must have a real numeric dtype (float32/float64 preferred), got {dtype}")


def mask_as_uint8(mask: np.ndarray, name: str) -> npt.NDArray[np.uint8]:
    """A C-contiguous uint8 array with nonzero = foreground, without copying when possible."""
    dtype = mask.dtype
    if dtype == np.bool_ or dtype == np.uint8 or dtype == np.int8:
        return np.ascontiguousarray(mask).view(np.uint8)
    if np.issubdtype(dtype, np.integer):
        return np.ascontiguousarray(mask != 0).view(np.uint8)
    if np.issubdtype(dtype, np.floating):
        if not np.isfinite(mask).all():
            raise ValueError(f"{name} contains NaN or infinity; a mask must be boolean or finite numbers")
        return np.ascontiguousarray(mask != 0).view(np.uint8)
    raise TypeError(f"{name} must be a boolean or numeric mask, got dtype {dtype}")


def float_array(x: np.ndarray, name: str) -> np.ndarray:
    """float32 / float64 stay as they are; other real dtypes become float64."""
    real_dtype(x.dtype, name)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return np.ascontiguousarray(x)


def finite_float32(x: np.ndarray, name: str) -> npt.NDArray[np.float32]:
    """A C-contiguous float32 copy (or view) of real values that are finite in float32."""
    real_dtype(x.dtype, name)
    with np.errstate(over="ignore"):  # values past float32's range become inf, rejected below
        out = np.asarray(x, dtype=np.float32, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinity, or values past float32's range "
                         f"(+-{float(np.finfo(np.float32).max):.4g}); replace those values first")
    return out


def check_fraction(value: Any, name: str) -> float:
    """A number in [0, 1] (a fraction of the map's range)."""
    return check_real(value, name, 0.0, 1.0)
