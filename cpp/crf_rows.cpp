// The baseline row kernels (4 floats at a time, simd.hpp) and the run-time choice.
#include "crf_rows.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "simd.hpp"

namespace weaksup {

namespace {

// kKeep[j] & x keeps the first j lanes of x and zeroes the others (a bit mask: the
// padding lanes' exp may be infinite, and inf * 0 would be NaN); x + kHide[j] turns the
// others into -inf, so that they never win a max.
F4 keep_lanes(int j) { return F4::lanes(0, 1, 2, 3) < F4::set(static_cast<float>(j)); }
const F4 kKeep[5] = {keep_lanes(0), keep_lanes(1), keep_lanes(2), keep_lanes(3), keep_lanes(4)};
constexpr float kInf = std::numeric_limits<float>::infinity();
const float kHideLanes[5][4] = {{-kInf, -kInf, -kInf, -kInf}, {0, -kInf, -kInf, -kInf}, {0, 0, -kInf, -kInf},
                                {0, 0, 0, -kInf}, {0, 0, 0, 0}};
const F4 kHide[5] = {F4::load(kHideLanes[0]), F4::load(kHideLanes[1]), F4::load(kHideLanes[2]),
                     F4::load(kHideLanes[3]), F4::load(kHideLanes[4])};

// densecrf's expAndNormalize for one point: q = exp(e - max e) / sum, over `labels`
// values padded to whole F4s (padding lanes of q become 0). The row stays in registers
// (NV F4s); q is written once, with streaming stores when `stream` (q 16-byte aligned).
template <int NV>
bool exp_normalize_row(const float* e, int labels, float* q, bool stream) {
  F4 x[NV];
  F4 top = F4::set(-kInf), zeros = F4::set(0.0f);  // zeros: sum of x * 0, NaN if some x is not finite
  for (int i = 0; i < NV; ++i) {
    x[i] = F4::load(e + 4 * i);
    top = max(top, 4 * i + 4 > labels ? x[i] + kHide[std::max(0, labels - 4 * i)] : x[i]);
    zeros = zeros + x[i] * F4::set(0.0f);
  }
  const F4 shift = F4::set(top.max_lane());
  F4 total = F4::set(0.0f);
  for (int i = 0; i < NV; ++i) {
    x[i] = exp4(x[i] - shift);
    if (4 * i + 4 > labels) x[i] = kKeep[std::max(0, labels - 4 * i)] & x[i];  // zero the padding
    total = total + x[i];
  }
  const F4 sum = F4::set(total.sum_lanes());
  for (int i = 0; i < NV; ++i) {
    if (stream) (x[i] / sum).stream(q + 4 * i);
    else (x[i] / sum).store(q + 4 * i);
  }
  return zeros.sum_lanes() == 0.0f;
}

bool exp_normalize(const float* e, int labels, int64_t stride, float* q, bool stream) {
  switch (stride / 4) {
    case 1: return exp_normalize_row<1>(e, labels, q, stream);
    case 2: return exp_normalize_row<2>(e, labels, q, stream);
    case 3: return exp_normalize_row<3>(e, labels, q, stream);
    case 4: return exp_normalize_row<4>(e, labels, q, stream);
    case 5: return exp_normalize_row<5>(e, labels, q, stream);
    case 6: return exp_normalize_row<6>(e, labels, q, stream);
    case 7: return exp_normalize_row<7>(e, labels, q, stream);
    case 8: return exp_normalize_row<8>(e, labels, q, stream);
    default: break;
  }
  F4 top = F4::set(-kInf), zeros = F4::set(0.0f);
  for (int64_t k = 0; k < stride; k += 4) {
    const F4 x = F4::load(e + k);
    top = max(top, k + 4 > labels ? x + kHide[std::max<int64_t>(0, labels - k)] : x);
    zeros = zeros + x * F4::set(0.0f);
  }
  const F4 shift = F4::set(top.max_lane());
  F4 total = F4::set(0.0f);
  for (int64_t k = 0; k < stride; k += 4) {
    F4 x = exp4(F4::load(e + k) - shift);
    if (k + 4 > labels) x = kKeep[std::max<int64_t>(0, labels - k)] & x;
    x.store(q + k);
    total = total + x;
  }
  const F4 sum = F4::set(total.sum_lanes());
  for (int64_t k = 0; k < stride; k += 4) (F4::load(q + k) / sum).store(q + k);
  return zeros.sum_lanes() == 0.0f;
}

// row += scale * sum_r weight[r] * values[vertex[r]] (densecrf: tmp1 -= -w * F).
void slice_add(float* row, const float* values, const int32_t* vertex, const float* weight, int per, int64_t stride,
               float scale) {
  for_chunks(stride, [&](auto acc, int64_t k0) {
    acc.zero();
    for (int r = 0; r < per; ++r) acc.add(F4::set(weight[r]), values + vertex[r] * stride + k0);
    acc.scale_add_to(F4::set(scale), row + k0);
  });
}

void splat_slot(float* dst, const float* in, const int32_t* entries, int32_t count, const float* weight,
                const float* point_scale, EntryDivider point_of, int64_t stride) {
  for_chunks(stride, [&](auto acc, int64_t k0) {
    acc.zero();
    for (int32_t j = 0; j < count; ++j) {
      const int32_t e = entries[j];
      const int64_t i = point_of(e);
      acc.add(F4::set(point_scale ? weight[e] * point_scale[i] : weight[e]), in + i * stride + k0);
    }
    acc.store(dst + k0);
  });
}

void blur_axis(const float* src, float* dst, const int32_t* neighbour, int per, int axis, int64_t first,
               int64_t last, int64_t stride) {
  const F4 half = F4::set(0.5f);
  for (int64_t v = first; v < last; ++v) {
    const float* a = src + v * stride;
    const float* n1 = src + static_cast<int64_t>(neighbour[(v * per + axis) * 2]) * stride;
    const float* n2 = src + static_cast<int64_t>(neighbour[(v * per + axis) * 2 + 1]) * stride;
    for (int64_t k = 0; k < stride; k += 4) {
      (F4::load(a + k) + half * (F4::load(n1 + k) + F4::load(n2 + k))).store(dst + v * stride + k);
    }
  }
}

int minus_unary(const float* src, int labels, bool probabilities, float clip, float pad, float* dst, int64_t stride) {
  for (int l = 0; l < labels; ++l) {
    const float v = src[l];
    if (!std::isfinite(v)) return 1;
    if (probabilities && v < 0) return 2;
    dst[l] = probabilities ? std::log(std::min(std::max(v, clip), 1.0f)) : -v;
  }
  for (int64_t l = labels; l < stride; ++l) dst[l] = pad;
  return 0;
}

}  // namespace

// The row kernels for rows of `stride` floats: 8-wide where the CPU has AVX2 and FMA.
const RowKernels& row_kernels(int64_t stride) {
  static const RowKernels baseline{&slice_add, &exp_normalize, &splat_slot, &minus_unary, &blur_axis, 4};
  static const RowKernels wide = [] {
    RowKernels k = baseline;
    // WEAKSUP_DISABLE_AVX2=1 keeps the baseline kernels (the tests compare the two).
    const char* disable = std::getenv("WEAKSUP_DISABLE_AVX2");
    if (disable && *disable && *disable != '0') return baseline;
    return avx2_row_kernels(&k) ? k : baseline;
  }();
  return stride % wide.stride_multiple == 0 ? wide : baseline;
}

}  // namespace weaksup
