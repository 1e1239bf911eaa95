// 8-wide row kernels for the mean-field step (see crf_rows.hpp). This file is compiled
// with -mavx2 -mfma and is self-contained (no shared inline code), so nothing built
// for AVX2 can be picked by the linker for the baseline code; its kernels run only
// after a CPU check.
#include "crf_rows.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace weaksup {
namespace {

// exp(x) as simd.hpp's exp4 (Cephes' expf), 8 lanes, 0 below -87.3.
inline __m256 exp8(__m256 a) {
  const __m256 underflow = _mm256_cmp_ps(a, _mm256_set1_ps(-87.3365f), _CMP_LT_OQ);
  __m256 x = _mm256_min_ps(_mm256_max_ps(a, _mm256_set1_ps(-87.3365f)), _mm256_set1_ps(88.3762626647949f));
  __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_add_ps(_mm256_fmadd_ps(y, z, x), _mm256_set1_ps(1.0f));
  const __m256i n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(y, _mm256_castsi256_ps(n)));
}

// log(x) for x > 0 (Cephes' logf, about 1 ulp): x = m 2^e with m in [sqrt(1/2), sqrt(2)).
inline __m256 log8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256i bits = _mm256_castps_si256(x);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
  __m256 m = _mm256_or_ps(_mm256_castsi256_ps(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF))),
                          _mm256_set1_ps(0.5f));  // in [0.5, 1)
  const __m256 small = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_sub_ps(e, _mm256_and_ps(small, one));
  m = _mm256_sub_ps(_mm256_add_ps(m, _mm256_and_ps(small, m)), one);
  const __m256 z = _mm256_mul_ps(m, m);
  __m256 y = _mm256_set1_ps(7.0376836292e-2f);
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.1514610310e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(1.1676998740e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.2420140846e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(1.4249322787e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.6668057665e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(2.0000714765e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-2.4999993993e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(3.3333331174e-1f));
  y = _mm256_mul_ps(_mm256_mul_ps(y, m), z);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, y);
  return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(m, y));
}

float max_lane(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_shuffle_ps(m, m, _MM_SHUFFLE(2, 3, 0, 1)));
  m = _mm_max_ps(m, _mm_shuffle_ps(m, m, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(m);
}

float sum_lanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// The first `keep` lanes all ones, the rest zero.
__m256 lane_mask(int keep) {
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(keep), index));
}

template <int NV>
void slice_add_n(float* row, const float* values, const int32_t* vertex, const float* weight, int per, float scale) {
  __m256 acc[NV];
  for (int i = 0; i < NV; ++i) acc[i] = _mm256_setzero_ps();
  for (int r = 0; r < per; ++r) {
    const __m256 w = _mm256_set1_ps(weight[r]);
    const float* val = values + static_cast<int64_t>(vertex[r]) * (8 * NV);
    for (int i = 0; i < NV; ++i) acc[i] = _mm256_fmadd_ps(w, _mm256_loadu_ps(val + 8 * i), acc[i]);
  }
  const __m256 s = _mm256_set1_ps(scale);
  for (int i = 0; i < NV; ++i) _mm256_storeu_ps(row + 8 * i, _mm256_fmadd_ps(s, acc[i], _mm256_loadu_ps(row + 8 * i)));
}

void slice_add(float* row, const float* values, const int32_t* vertex, const float* weight, int per,
               int64_t stride, float scale) {
  switch (stride / 8) {
    case 1: return slice_add_n<1>(row, values, vertex, weight, per, scale);
    case 2: return slice_add_n<2>(row, values, vertex, weight, per, scale);
    case 3: return slice_add_n<3>(row, values, vertex, weight, per, scale);
    case 4: return slice_add_n<4>(row, values, vertex, weight, per, scale);
    default: break;
  }
  for (int64_t k0 = 0; k0 < stride; k0 += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int r = 0; r < per; ++r) {
      acc = _mm256_fmadd_ps(_mm256_set1_ps(weight[r]), _mm256_loadu_ps(values + vertex[r] * stride + k0), acc);
    }
    _mm256_storeu_ps(row + k0, _mm256_fmadd_ps(_mm256_set1_ps(scale), acc, _mm256_loadu_ps(row + k0)));
  }
}

// x with the lanes from `keep` on set to -inf, so that they never win a max.
__m256 hide_lanes(__m256 x, int keep) { return _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()), x, lane_mask(keep)); }

template <int NV>
bool exp_normalize_n(const float* e, int labels, float* q, bool stream) {
  __m256 x[NV];
  __m256 top = _mm256_set1_ps(-__builtin_inff());
  __m256 zeros = _mm256_setzero_ps();  // sum of x * 0: NaN if some x is not finite
  for (int i = 0; i < NV; ++i) {
    x[i] = _mm256_loadu_ps(e + 8 * i);
    top = _mm256_max_ps(top, 8 * i + 8 > labels ? hide_lanes(x[i], labels - 8 * i) : x[i]);
    zeros = _mm256_fmadd_ps(x[i], _mm256_setzero_ps(), zeros);
  }
  const __m256 shift = _mm256_set1_ps(max_lane(top));
  __m256 total = _mm256_setzero_ps();
  for (int i = 0; i < NV; ++i) {
    x[i] = exp8(_mm256_sub_ps(x[i], shift));
    if (8 * i + 8 > labels) x[i] = _mm256_and_ps(x[i], lane_mask(labels - 8 * i));
    total = _mm256_add_ps(total, x[i]);
  }
  const __m256 sum = _mm256_set1_ps(sum_lanes(total));
  for (int i = 0; i < NV; ++i) {
    const __m256 v = _mm256_div_ps(x[i], sum);
    if (stream) {  // 16-byte aligned: two 128-bit streaming stores
      _mm_stream_ps(q + 8 * i, _mm256_castps256_ps128(v));
      _mm_stream_ps(q + 8 * i + 4, _mm256_extractf128_ps(v, 1));
    } else {
      _mm256_storeu_ps(q + 8 * i, v);
    }
  }
  return sum_lanes(zeros) == 0.0f;
}

bool exp_normalize(const float* e, int labels, int64_t stride, float* q, bool stream) {
  switch (stride / 8) {
    case 1: return exp_normalize_n<1>(e, labels, q, stream);
    case 2: return exp_normalize_n<2>(e, labels, q, stream);
    case 3: return exp_normalize_n<3>(e, labels, q, stream);
    case 4: return exp_normalize_n<4>(e, labels, q, stream);
    default: break;
  }
  __m256 top = _mm256_set1_ps(-__builtin_inff()), zeros = _mm256_setzero_ps();
  for (int64_t k = 0; k < stride; k += 8) {
    const __m256 v = _mm256_loadu_ps(e + k);
    top = _mm256_max_ps(top, k + 8 > labels ? hide_lanes(v, static_cast<int>(labels - k)) : v);
    zeros = _mm256_fmadd_ps(v, _mm256_setzero_ps(), zeros);
  }
  const __m256 shift = _mm256_set1_ps(max_lane(top));
  __m256 total = _mm256_setzero_ps();
  for (int64_t k = 0; k < stride; k += 8) {
    __m256 x = exp8(_mm256_sub_ps(_mm256_loadu_ps(e + k), shift));
    if (k + 8 > labels) x = _mm256_and_ps(x, lane_mask(static_cast<int>(labels - k)));
    _mm256_storeu_ps(q + k, x);
    total = _mm256_add_ps(total, x);
  }
  const __m256 sum = _mm256_set1_ps(sum_lanes(total));
  for (int64_t k = 0; k < stride; k += 8) _mm256_storeu_ps(q + k, _mm256_div_ps(_mm256_loadu_ps(q + k), sum));
  return sum_lanes(zeros) == 0.0f;
}

template <int NV>
void splat_slot_n(float* dst, const float* in, const int32_t* entries, int32_t count, const float* weight,
                  const float* point_scale, EntryDivider point_of) {
  __m256 acc[NV];
  for (int i = 0; i < NV; ++i) acc[i] = _mm256_setzero_ps();
  for (int32_t j = 0; j < count; ++j) {
    const int32_t e = entries[j];
    const int64_t p = point_of(e);
    const __m256 w = _mm256_set1_ps(point_scale ? weight[e] * point_scale[p] : weight[e]);
    const float* src = in + p * (8 * NV);
    for (int i = 0; i < NV; ++i) acc[i] = _mm256_fmadd_ps(w, _mm256_loadu_ps(src + 8 * i), acc[i]);
  }
  for (int i = 0; i < NV; ++i) _mm256_storeu_ps(dst + 8 * i, acc[i]);
}

void splat_slot(float* dst, const float* in, const int32_t* entries, int32_t count, const float* weight,
                const float* point_scale, EntryDivider point_of, int64_t stride) {
  switch (stride / 8) {
    case 1: return splat_slot_n<1>(dst, in, entries, count, weight, point_scale, point_of);
    case 2: return splat_slot_n<2>(dst, in, entries, count, weight, point_scale, point_of);
    case 3: return splat_slot_n<3>(dst, in, entries, count, weight, point_scale, point_of);
    case 4: return splat_slot_n<4>(dst, in, entries, count, weight, point_scale, point_of);
    default: break;
  }
  for (int64_t k0 = 0; k0 < stride; k0 += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int32_t j = 0; j < count; ++j) {
      const int32_t e = entries[j];
      const int64_t p = point_of(e);
      const float w = point_scale ? weight[e] * point_scale[p] : weight[e];
      acc = _mm256_fmadd_ps(_mm256_set1_ps(w), _mm256_loadu_ps(in + p * stride + k0), acc);
    }
    _mm256_storeu_ps(dst + k0, acc);
  }
}

template <int NV>
void blur_axis_n(const float* src, float* dst, const int32_t* neighbour, int per, int axis, int64_t first,
                 int64_t last) {
  constexpr int64_t stride = 8 * NV;
  const __m256 half = _mm256_set1_ps(0.5f);
  for (int64_t v = first; v < last; ++v) {
    const float* a = src + v * stride;
    const float* n1 = src + static_cast<int64_t>(neighbour[(v * per + axis) * 2]) * stride;
    const float* n2 = src + static_cast<int64_t>(neighbour[(v * per + axis) * 2 + 1]) * stride;
    for (int i = 0; i < NV; ++i) {
      const __m256 sum = _mm256_add_ps(_mm256_loadu_ps(n1 + 8 * i), _mm256_loadu_ps(n2 + 8 * i));
      _mm256_storeu_ps(dst + v * stride + 8 * i, _mm256_fmadd_ps(half, sum, _mm256_loadu_ps(a + 8 * i)));
    }
  }
}

void blur_axis(const float* src, float* dst, const int32_t* neighbour, int per, int axis, int64_t first,
               int64_t last, int64_t stride) {
  switch (stride / 8) {
    case 1: return blur_axis_n<1>(src, dst, neighbour, per, axis, first, last);
    case 2: return blur_axis_n<2>(src, dst, neighbour, per, axis, first, last);
    case 3: return blur_axis_n<3>(src, dst, neighbour, per, axis, first, last);
    case 4: return blur_axis_n<4>(src, dst, neighbour, per, axis, first, last);
    default: break;
  }
  const __m256 half = _mm256_set1_ps(0.5f);
  for (int64_t v = first; v < last; ++v) {
    const float* a = src + v * stride;
    const float* n1 = src + static_cast<int64_t>(neighbour[(v * per + axis) * 2]) * stride;
    const float* n2 = src + static_cast<int64_t>(neighbour[(v * per + axis) * 2 + 1]) * stride;
    for (int64_t k = 0; k < stride; k += 8) {
      const __m256 sum = _mm256_add_ps(_mm256_loadu_ps(n1 + k), _mm256_loadu_ps(n2 + k));
      _mm256_storeu_ps(dst + v * stride + k, _mm256_fmadd_ps(half, sum, _mm256_loadu_ps(a + k)));
    }
  }
}

int minus_unary(const float* src, int labels, bool probabilities, float clip, float pad, float* dst, int64_t stride) {
  const __m256 inf = _mm256_set1_ps(__builtin_inff());
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 bad = _mm256_setzero_ps(), negative = _mm256_setzero_ps();
  for (int64_t k = 0; k < stride; k += 8) {
    const __m256 keep = lane_mask(static_cast<int>(labels - k));
    __m256 v;
    if (k + 8 <= labels) {
      v = _mm256_loadu_ps(src + k);
    } else {  // the row's end: src holds `labels` floats, so read only those
      alignas(32) float tail[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t l = k; l < labels; ++l) tail[l - k] = src[l];
      v = _mm256_load_ps(tail);
    }
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_andnot_ps(sign, v), inf, _CMP_NLT_UQ));  // |v| >= inf or NaN
    __m256 out;
    if (probabilities) {
      negative = _mm256_or_ps(negative, _mm256_and_ps(keep, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ)));
      out = log8(_mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(clip)), _mm256_set1_ps(1.0f)));
    } else {
      out = _mm256_xor_ps(v, sign);
    }
    _mm256_storeu_ps(dst + k, _mm256_blendv_ps(_mm256_set1_ps(pad), out, keep));
  }
  if (_mm256_movemask_ps(bad)) return 1;
  if (_mm256_movemask_ps(negative)) return 2;
  return 0;
}

}  // namespace

bool avx2_row_kernels(RowKernels* out) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  *out = {&slice_add, &exp_normalize, &splat_slot, &minus_unary, &blur_axis, 8};
  return true;
}

}  // namespace weaksup

#else

namespace weaksup {
bool avx2_row_kernels(RowKernels*) { return false; }
}  // namespace weaksup

#endif
