// The range of a float map and whether all its values are finite, in one SIMD pass.
// (Compilers do not vectorize floating-point min/max reductions without fast-math.)
#pragma once
#include <cstdint>
#include <type_traits>

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

#ifdef WEAKSUP_RANGE_SSE2
namespace sse2 {

// The SSE2 operations of range loops, for float (4 lanes) and double (2 lanes).
struct FloatLanes {
  using V = __m128;
  static constexpr int lanes = 4;
  static V load(const float* p) { return _mm_loadu_ps(p); }
  static V zero() { return _mm_setzero_ps(); }
  static V min(V a, V b) { return _mm_min_ps(a, b); }
  static V max(V a, V b) { return _mm_max_ps(a, b); }
  static V not_finite(V x) {  // x - x is NaN exactly when x is NaN or infinite
    const V z = _mm_sub_ps(x, x);
    return _mm_cmpunord_ps(z, z);
  }
  static V either(V a, V b) { return _mm_or_ps(a, b); }
  static bool any(V a) { return _mm_movemask_ps(a) != 0; }
  static void store(float* p, V a) { _mm_storeu_ps(p, a); }
  static V add(V a, V b) { return _mm_add_ps(a, b); }
};

struct DoubleLanes {
  using V = __m128d;
  static constexpr int lanes = 2;
  static V load(const double* p) { return _mm_loadu_pd(p); }
  static V zero() { return _mm_setzero_pd(); }
  static V min(V a, V b) { return _mm_min_pd(a, b); }
  static V max(V a, V b) { return _mm_max_pd(a, b); }
  static V not_finite(V x) {
    const V z = _mm_sub_pd(x, x);
    return _mm_cmpunord_pd(z, z);
  }
  static V either(V a, V b) { return _mm_or_pd(a, b); }
  static bool any(V a) { return _mm_movemask_pd(a) != 0; }
  static void store(double* p, V a) { _mm_storeu_pd(p, a); }
  static V add(V a, V b) { return _mm_add_pd(a, b); }
};

template <class T>
using Lanes = typename std::conditional<std::is_same<T, float>::value, FloatLanes, DoubleLanes>::type;

}  // namespace sse2

namespace detail {

// The range of v[0, i) for the largest i that is a multiple of 4 vectors, folded into
// lo / hi; false if a value there is not finite. Four independent accumulators: one
// chain of min / max would wait on each instruction's latency (4x slower).
template <class Ops, class T>
bool simd_range(const T* v, int64_t n, T* lo, T* hi, int64_t* done) {
  using V = typename Ops::V;
  constexpr int L = Ops::lanes, U = 4;
  *done = 0;
  if (n < L * U) return true;
  V mn[U], mx[U], bad[U];
  for (int u = 0; u < U; ++u) {
    mn[u] = mx[u] = Ops::load(v + u * L);
    bad[u] = Ops::zero();
  }
  int64_t i = 0;
  for (; i + L * U <= n; i += L * U) {
    for (int u = 0; u < U; ++u) {
      const V x = Ops::load(v + i + u * L);
      mn[u] = Ops::min(mn[u], x);
      mx[u] = Ops::max(mx[u], x);
      bad[u] = Ops::either(bad[u], Ops::not_finite(x));
    }
  }
  *done = i;
  for (int u = 1; u < U; ++u) {
    mn[0] = Ops::min(mn[0], mn[u]);
    mx[0] = Ops::max(mx[0], mx[u]);
    bad[0] = Ops::either(bad[0], bad[u]);
  }
  if (Ops::any(bad[0])) return false;
  T a[L], b[L];
  Ops::store(a, mn[0]);
  Ops::store(b, mx[0]);
  for (int k = 0; k < L; ++k) {
    *lo = a[k] < *lo ? a[k] : *lo;
    *hi = b[k] > *hi ? b[k] : *hi;
  }
  return true;
}

}  // namespace detail
#endif

// Sets lo / hi to the smallest / largest value of v[0, n) (n >= 1); returns false if a
// value is NaN or infinite (lo / hi are then meaningless).
template <class T>
bool value_range(const T* v, int64_t n, T* lo, T* hi) {
  static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "float or double");
  *lo = *hi = v[0];
  int64_t i = 0;
#ifdef WEAKSUP_RANGE_SSE2
  if (!detail::simd_range<sse2::Lanes<T>>(v, n, lo, hi, &i)) return false;
#endif
  return detail::scalar_range(v + i, n - i, lo, hi);
}

}  // namespace weaksup
