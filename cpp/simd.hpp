// Four floats at a time: SSE2 where the compiler targets it, plain loops elsewhere.
// The dense CRF keeps its per-point label vectors padded to a multiple of 4 floats
// (`padded`), so every loop over labels runs whole F4s.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define WEAKSUP_SIMD_SSE2 1
#endif

namespace weaksup {

inline int64_t padded(int64_t channels) { return (channels + 3) / 4 * 4; }

#ifdef WEAKSUP_SIMD_SSE2
struct F4 {
  __m128 v;
  static F4 load(const float* p) { return {_mm_loadu_ps(p)}; }
  static F4 set(float x) { return {_mm_set1_ps(x)}; }
  static F4 lanes(float a, float b, float c, float d) { return {_mm_setr_ps(a, b, c, d)}; }
  void store(float* p) const { _mm_storeu_ps(p, v); }
  // Round half to even (the default rounding mode), as densecrf's _mm_cvtps_epi32.
  F4 round_even() const { return {_mm_cvtepi32_ps(_mm_cvtps_epi32(v))}; }
  // Lane-wise comparisons give masks; `mask & x` keeps x where the mask is set.
  friend F4 operator<(F4 a, F4 b) { return {_mm_cmplt_ps(a.v, b.v)}; }
  friend F4 operator>=(F4 a, F4 b) { return {_mm_cmpge_ps(a.v, b.v)}; }
  friend F4 operator&(F4 mask, F4 x) { return {_mm_and_ps(mask.v, x.v)}; }
  // A store that bypasses the cache (p 16-byte aligned): for big outputs read much later.
  // Call stream_fence() before other threads may read them.
  void stream(float* p) const { _mm_stream_ps(p, v); }
  friend F4 operator+(F4 a, F4 b) { return {_mm_add_ps(a.v, b.v)}; }
  friend F4 operator-(F4 a, F4 b) { return {_mm_sub_ps(a.v, b.v)}; }
  friend F4 operator*(F4 a, F4 b) { return {_mm_mul_ps(a.v, b.v)}; }
  friend F4 operator/(F4 a, F4 b) { return {_mm_div_ps(a.v, b.v)}; }
  friend F4 max(F4 a, F4 b) { return {_mm_max_ps(a.v, b.v)}; }
  float max_lane() const {
    __m128 m = _mm_max_ps(v, _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    m = _mm_max_ps(m, _mm_shuffle_ps(m, m, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtss_f32(m);
  }
  float sum_lanes() const {
    alignas(16) float f[4];
    _mm_store_ps(f, v);
    return (f[0] + f[1]) + (f[2] + f[3]);
  }
};

inline void stream_fence() { _mm_sfence(); }

// exp(x) to about 2 ulp (Cephes' expf): x = n ln 2 + r, a degree-5 polynomial for
// exp(r), times 2^n. Below -87.3 (where floats go subnormal) it gives 0.
inline F4 exp4(F4 a) {
  const __m128 underflow = _mm_cmplt_ps(a.v, _mm_set1_ps(-87.3365f));
  __m128 x = _mm_min_ps(_mm_max_ps(a.v, _mm_set1_ps(-87.3365f)), _mm_set1_ps(88.3762626647949f));
  __m128 fx = _mm_add_ps(_mm_mul_ps(x, _mm_set1_ps(1.44269504088896341f)), _mm_set1_ps(0.5f));
  __m128 t = _mm_cvtepi32_ps(_mm_cvttps_epi32(fx));
  fx = _mm_sub_ps(t, _mm_and_ps(_mm_cmpgt_ps(t, fx), _mm_set1_ps(1.0f)));  // floor
  x = _mm_sub_ps(x, _mm_mul_ps(fx, _mm_set1_ps(0.693359375f)));
  x = _mm_sub_ps(x, _mm_mul_ps(fx, _mm_set1_ps(-2.12194440e-4f)));
  const __m128 z = _mm_mul_ps(x, x);
  __m128 y = _mm_set1_ps(1.9875691500e-4f);
  y = _mm_add_ps(_mm_mul_ps(y, x), _mm_set1_ps(1.3981999507e-3f));
  y = _mm_add_ps(_mm_mul_ps(y, x), _mm_set1_ps(8.3334519073e-3f));
  y = _mm_add_ps(_mm_mul_ps(y, x), _mm_set1_ps(4.1665795894e-2f));
  y = _mm_add_ps(_mm_mul_ps(y, x), _mm_set1_ps(1.6666665459e-1f));
  y = _mm_add_ps(_mm_mul_ps(y, x), _mm_set1_ps(5.0000001201e-1f));
  y = _mm_add_ps(_mm_add_ps(_mm_mul_ps(y, z), x), _mm_set1_ps(1.0f));
  const __m128i n = _mm_slli_epi32(_mm_add_epi32(_mm_cvttps_epi32(fx), _mm_set1_epi32(127)), 23);
  return {_mm_andnot_ps(underflow, _mm_mul_ps(y, _mm_castsi128_ps(n)))};
}
#else
struct F4 {
  float v[4];
  static F4 load(const float* p) { return {{p[0], p[1], p[2], p[3]}}; }
  static F4 set(float x) { return {{x, x, x, x}}; }
  static F4 lanes(float a, float b, float c, float d) { return {{a, b, c, d}}; }
  void store(float* p) const {
    for (int i = 0; i < 4; ++i) p[i] = v[i];
  }
  F4 round_even() const { return {{std::nearbyint(v[0]), std::nearbyint(v[1]), std::nearbyint(v[2]), std::nearbyint(v[3])}}; }
  static float bits(bool b) {
    const uint32_t u = b ? 0xFFFFFFFFu : 0u;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  friend F4 operator<(F4 a, F4 b) { return {{bits(a.v[0] < b.v[0]), bits(a.v[1] < b.v[1]), bits(a.v[2] < b.v[2]), bits(a.v[3] < b.v[3])}}; }
  friend F4 operator>=(F4 a, F4 b) { return {{bits(a.v[0] >= b.v[0]), bits(a.v[1] >= b.v[1]), bits(a.v[2] >= b.v[2]), bits(a.v[3] >= b.v[3])}}; }
  friend F4 operator&(F4 mask, F4 x) {
    F4 out;
    for (int i = 0; i < 4; ++i) {
      uint32_t m, u;
      std::memcpy(&m, &mask.v[i], 4);
      std::memcpy(&u, &x.v[i], 4);
      u &= m;
      std::memcpy(&out.v[i], &u, 4);
    }
    return out;
  }
  void stream(float* p) const { store(p); }
  friend F4 operator+(F4 a, F4 b) { return {{a.v[0] + b.v[0], a.v[1] + b.v[1], a.v[2] + b.v[2], a.v[3] + b.v[3]}}; }
  friend F4 operator-(F4 a, F4 b) { return {{a.v[0] - b.v[0], a.v[1] - b.v[1], a.v[2] - b.v[2], a.v[3] - b.v[3]}}; }
  friend F4 operator*(F4 a, F4 b) { return {{a.v[0] * b.v[0], a.v[1] * b.v[1], a.v[2] * b.v[2], a.v[3] * b.v[3]}}; }
  friend F4 operator/(F4 a, F4 b) { return {{a.v[0] / b.v[0], a.v[1] / b.v[1], a.v[2] / b.v[2], a.v[3] / b.v[3]}}; }
  friend F4 max(F4 a, F4 b) {
    return {{std::fmax(a.v[0], b.v[0]), std::fmax(a.v[1], b.v[1]), std::fmax(a.v[2], b.v[2]),
             std::fmax(a.v[3], b.v[3])}};
  }
  float max_lane() const { return std::fmax(std::fmax(v[0], v[1]), std::fmax(v[2], v[3])); }
  float sum_lanes() const { return (v[0] + v[1]) + (v[2] + v[3]); }
};
inline F4 exp4(F4 a) {  // clamped above like the SSE version: finite for any finite input
  F4 out;
  for (int i = 0; i < 4; ++i) out.v[i] = std::exp(std::min(a.v[i], 88.3762626647949f));
  return out;
}
inline void stream_fence() {}
#endif

// NV F4s of a row, held in registers while many weighted rows are summed into them.
template <int NV>
struct Acc {
  F4 a[NV];
  void zero() {
    for (int i = 0; i < NV; ++i) a[i] = F4::set(0.0f);
  }
  void load(const float* p) {
    for (int i = 0; i < NV; ++i) a[i] = F4::load(p + 4 * i);
  }
  void add(F4 w, const float* p) {
    for (int i = 0; i < NV; ++i) a[i] = a[i] + w * F4::load(p + 4 * i);
  }
  void add(const float* p) {
    for (int i = 0; i < NV; ++i) a[i] = a[i] + F4::load(p + 4 * i);
  }
  void store(float* p) const {
    for (int i = 0; i < NV; ++i) a[i].store(p + 4 * i);
  }
  // p += scale * this
  void scale_add_to(F4 scale, float* p) const {
    for (int i = 0; i < NV; ++i) (F4::load(p + 4 * i) + scale * a[i]).store(p + 4 * i);
  }
};

// fn(Acc<NV>{}, k0) over the chunks [k0, k0 + 4 NV) of a padded row of c floats, at
// most 8 F4s (32 floats) each, so accumulators stay in registers.
template <class Fn>
void for_chunks(int64_t c, Fn&& fn) {
  for (int64_t k0 = 0; k0 < c; k0 += 32) {
    switch (c - k0 >= 32 ? 8 : (c - k0) / 4) {
      case 1: fn(Acc<1>{}, k0); break;
      case 2: fn(Acc<2>{}, k0); break;
      case 3: fn(Acc<3>{}, k0); break;
      case 4: fn(Acc<4>{}, k0); break;
      case 5: fn(Acc<5>{}, k0); break;
      case 6: fn(Acc<6>{}, k0); break;
      case 7: fn(Acc<7>{}, k0); break;
      default: fn(Acc<8>{}, k0); break;
    }
  }
}

}  // namespace weaksup
