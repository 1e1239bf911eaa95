// The range of a float map and whether all its values are finite, in one SIMD pass.
// (Compilers do not vectorize floating-point min/max reductions without fast-math.)
#pragma once
#include <cstdint>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define WEAKSUP_RANGE_SSE2 1
#endif

namespace weaksup {

namespace detail {

template <class T>
bool scalar_range(const T* v, int64_t n, T* lo, T* hi) {
  int not_finite = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T x = v[i], zero = x - x;  // NaN exactly when x is NaN or infinite
    *lo = x < *lo ? x : *lo;
    *hi = x > *hi ? x : *hi;
    not_finite |= zero != zero;
  }
  return !not_finite;
}

}  // namespace detail

// Sets lo / hi to the smallest / largest value of v[0, n) (n >= 1); returns false if a
// value is NaN or infinite (lo / hi are then meaningless).
inline bool value_range(const float* v, int64_t n, float* lo, float* hi) {
  *lo = *hi = v[0];
  int64_t i = 0;
#ifdef WEAKSUP_RANGE_SSE2
  if (n >= 8) {
    __m128 mn = _mm_loadu_ps(v), mx = mn, bad = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4) {
      const __m128 x = _mm_loadu_ps(v + i), zero = _mm_sub_ps(x, x);
      mn = _mm_min_ps(mn, x);
      mx = _mm_max_ps(mx, x);
      bad = _mm_or_ps(bad, _mm_cmpunord_ps(zero, zero));
    }
    if (_mm_movemask_ps(bad)) return false;
    float a[4], b[4];
    _mm_storeu_ps(a, mn);
    _mm_storeu_ps(b, mx);
    for (int k = 0; k < 4; ++k) {
      *lo = a[k] < *lo ? a[k] : *lo;
      *hi = b[k] > *hi ? b[k] : *hi;
    }
  }
#endif
  return detail::scalar_range(v + i, n - i, lo, hi);
}

inline bool value_range(const double* v, int64_t n, double* lo, double* hi) {
  *lo = *hi = v[0];
  int64_t i = 0;
#ifdef WEAKSUP_RANGE_SSE2
  if (n >= 4) {
    __m128d mn = _mm_loadu_pd(v), mx = mn, bad = _mm_setzero_pd();
    for (; i + 2 <= n; i += 2) {
      const __m128d x = _mm_loadu_pd(v + i), zero = _mm_sub_pd(x, x);
      mn = _mm_min_pd(mn, x);
      mx = _mm_max_pd(mx, x);
      bad = _mm_or_pd(bad, _mm_cmpunord_pd(zero, zero));
    }
    if (_mm_movemask_pd(bad)) return false;
    double a[2], b[2];
    _mm_storeu_pd(a, mn);
    _mm_storeu_pd(b, mx);
    for (int k = 0; k < 2; ++k) {
      *lo = a[k] < *lo ? a[k] : *lo;
      *hi = b[k] > *hi ? b[k] : *hi;
    }
  }
#endif
  return detail::scalar_range(v + i, n - i, lo, hi);
}

}  // namespace weaksup
