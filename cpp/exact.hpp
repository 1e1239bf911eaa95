// The decisions that must come out identical in the C++ and CUDA kernels, written once
// for both (nvcc compiles them for host and device): the foreground cut of a CAM and the
// protocol's boxes and IoU.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cam_boxes.hpp"
#include "host_device.hpp"
#include "wsol.hpp"


namespace weaksup {

// ---- order-preserving float bits ----
// An order-preserving map between floating-point values and unsigned integers: a
// bisection over the integers visits every representable value between two bounds (and
// on the GPU, integer min/max atomics give float min/max).

template <class T>
using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;

template <class T>
WEAKSUP_HOST_DEVICE inline Bits<T> to_ordered(T v) {
  Bits<T> u;
  memcpy(&u, &v, sizeof u);
  const Bits<T> sign = Bits<T>{1} << (8 * sizeof(T) - 1);
  return (u & sign) ? ~u : (u | sign);
}

template <class T>
WEAKSUP_HOST_DEVICE inline T from_ordered(Bits<T> k) {
  const Bits<T> sign = Bits<T>{1} << (8 * sizeof(T) - 1);
  const Bits<T> u = (k & sign) ? (k & ~sign) : ~k;
  T v;
  memcpy(&v, &u, sizeof v);
  return v;
}

// ---- the foreground of a CAM ----

// The rule of CamNormalization, in float64 as NumPy would evaluate it.
WEAKSUP_HOST_DEVICE inline bool is_foreground(double v, double lo, double hi, double threshold,
                                              CamNormalization norm) {
  switch (norm) {
    case CamNormalization::MinMax: return (v - lo) / (hi - lo) > threshold;
    case CamNormalization::Max: return v / hi > threshold;
    default: return v > threshold;
  }
}

// The smallest value `cut` of T such that every value v of a map with range [lo, hi]
// is foreground exactly when v >= cut (the rule is monotone in v, so such a cut
// exists). Returns false when no value in [lo, hi] is foreground.
template <class T>
WEAKSUP_HOST_DEVICE bool foreground_cut(T lo, T hi, double threshold, CamNormalization norm, T* cut) {
  if (norm == CamNormalization::MinMax && !(hi > lo)) return false;
  if (norm == CamNormalization::Max && !(hi > 0)) return false;
  if (!is_foreground(hi, lo, hi, threshold, norm)) return false;
  Bits<T> a = to_ordered(lo), b = to_ordered(hi);  // invariant: b is foreground
  if (is_foreground(lo, lo, hi, threshold, norm)) b = a;
  while (b - a > 1) {
    const Bits<T> mid = a + (b - a) / 2;
    if (is_foreground(from_ordered<T>(mid), lo, hi, threshold, norm)) b = mid;
    else a = mid;
  }
  *cut = from_ordered<T>(b);
  return true;
}

// ---- the WSOL protocol's boxes ----

// Protocol box of a tight inclusive box [x0, x1] x [y0, y1] grown by `grow` pixels:
// cv2.boundingRect gives x, y, w, h and the protocol keeps x, y, min(x + w, W - 1), ...
WEAKSUP_HOST_DEVICE inline Box protocol_box(int64_t x0, int64_t y0, int64_t x1, int64_t y1, int64_t grow,
                                            int64_t width, int64_t height) {
  return {x0 - grow, y0 - grow, std::min(x1 + grow + 1, width - 1), std::min(y1 + grow + 1, height - 1)};
}

// IoU with inclusive areas, as the protocol computes it; a degenerate pair scores 0.
// Ground-truth coordinates are validated to [0, 2^31 - 1] (wsol.py's MAX_COORDINATE) and
// predicted boxes lie inside a map of fewer than 2^31 pixels, so every area (< 2^62) and the
// union (< 2^62 + 2^31) are exact in int64.
WEAKSUP_HOST_DEVICE inline double box_iou(const Box& a, const int64_t* g) {
  const int64_t iw = std::max<int64_t>(0, std::min(a.x1, g[2]) - std::max(a.x0, g[0]) + 1);
  const int64_t ih = std::max<int64_t>(0, std::min(a.y1, g[3]) - std::max(a.y0, g[1]) + 1);
  const int64_t inter = iw * ih;
  const int64_t area_a = (a.x1 - a.x0 + 1) * (a.y1 - a.y0 + 1);
  const int64_t area_g = (g[2] - g[0] + 1) * (g[3] - g[1] + 1);
  const int64_t denominator = area_a + area_g - inter;
  return denominator <= 0 ? 0.0 : static_cast<double>(inter) / static_cast<double>(denominator);
}

}  // namespace weaksup
