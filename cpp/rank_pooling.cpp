#include "rank_pooling.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <type_traits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "parallel.hpp"

namespace weaksup {

int64_t rank_pool_support(double q, int64_t n) {
  if (q == 0.0) return std::min<int64_t>(1, n);
  if (q == 1.0) return n;
  double w = 1.0;
  for (int64_t j = 0; j < n; ++j) {
    if (w == 0.0) return j;
    w *= q;
  }
  return n;
}

namespace {

// The normalized weights q^j / sum_j q^j of each distinct decay, over the ranks whose q^j
// is nonzero (made once per decay: the powers are a serial chain, and slow where they
// pass through subnormals). table_of[r] is row r's table.
struct WeightTables {
  std::vector<std::vector<double>> tables;
  std::vector<int32_t> table_of;

  WeightTables(const double* q, int64_t rows, int64_t n) : table_of(rows) {
    std::map<double, int32_t> index;
    for (int64_t r = 0; r < rows; ++r) {
      auto it = index.find(q[r]);
      if (it == index.end()) {
        it = index.emplace(q[r], static_cast<int32_t>(tables.size())).first;
        const int64_t k = rank_pool_support(q[r], n);
        std::vector<double> w(k);
        double z = 0.0, p = 1.0;
        for (int64_t j = 0; j < k; ++j, p *= q[r]) z += (w[j] = p);
        for (double& v : w) v /= z;
        tables.push_back(std::move(w));
      }
      table_of[r] = it->second;
    }
  }
  const std::vector<double>& of(int64_t r) const { return tables[table_of[r]]; }
};

void check(int64_t rows, int64_t n, const double* q) {
  if (rows < 0 || n <= 0) throw std::invalid_argument("rank pooling needs rows >= 0 and n >= 1 values per row");
  if (n > std::numeric_limits<int32_t>::max()) throw std::invalid_argument("rank pooling rows past 2^31 values");
  for (int64_t r = 0; r < rows; ++r)
    if (!(q[r] >= 0.0 && q[r] <= 1.0)) throw std::invalid_argument("rank pooling decay q must be in [0, 1]");
}

// Unsigned keys that order as the floats do (negatives below positives; -0 just below +0,
// which only reorders equal values).
inline uint32_t order_key(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
inline uint64_t order_key(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return (b & 0x8000000000000000ull) ? ~b : (b | 0x8000000000000000ull);
}

// Per-thread buffers of an LSD radix sort: keys and column indices, twice (ping-pong).
template <class K>
struct RadixScratch {
  std::vector<K> keys[2];
  std::vector<int32_t> cols[2];
  std::vector<uint32_t> hist;  // 256 counts per key byte
};

// Columns of x (n values) in descending order into `order`, by an 8-bit LSD radix sort of
// the order keys (ascending, read backwards): a few linear passes instead of n log n
// compares, and passes where every key shares the byte are skipped.
template <class T, class K>
void radix_order(const T* x, int64_t n, RadixScratch<K>& s, int64_t* order) {
  constexpr int kBytes = sizeof(K);
  for (int b = 0; b < 2; ++b) {
    s.keys[b].resize(n);
    s.cols[b].resize(n);
  }
  s.hist.assign(256 * kBytes, 0);
  uint32_t* hist = s.hist.data();
  K* key = s.keys[0].data();
  int32_t* col = s.cols[0].data();
  for (int64_t i = 0; i < n; ++i) {
    const K k = order_key(x[i]);
    key[i] = k;
    col[i] = static_cast<int32_t>(i);
    for (int d = 0; d < kBytes; ++d) ++hist[256 * d + ((k >> (8 * d)) & 0xFF)];
  }
  int cur = 0;
  for (int d = 0; d < kBytes; ++d) {
    uint32_t* h = hist + 256 * d;
    const K* kin = s.keys[cur].data();
    if (h[(kin[0] >> (8 * d)) & 0xFF] == static_cast<uint32_t>(n)) continue;  // one bucket: nothing moves
    uint32_t at = 0;
    for (int v = 0; v < 256; ++v) {
      const uint32_t c = h[v];
      h[v] = at;
      at += c;
    }
    const int32_t* cin = s.cols[cur].data();
    K* kout = s.keys[1 - cur].data();
    int32_t* cout = s.cols[1 - cur].data();
    for (int64_t i = 0; i < n; ++i) {
      const K k = kin[i];
      const uint32_t slot = h[(k >> (8 * d)) & 0xFF]++;
      kout[slot] = k;
      cout[slot] = cin[i];
    }
    cur = 1 - cur;
  }
  const int32_t* sorted = s.cols[cur].data();
  for (int64_t j = 0; j < n; ++j) order[j] = sorted[n - 1 - j];
}

template <class T>
using KeyOf = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;

}  // namespace

template <class T>
void rank_pool_forward(const T* values, int64_t rows, int64_t n, const double* q, T* out, int64_t* order,
                       int threads) {
  check(rows, n, q);
  const WeightTables weights(q, rows, n);
  std::vector<RadixScratch<KeyOf<T>>> scratch(resolve_threads(threads, rows));
  parallel_for(rows, threads, [&](int worker, int64_t r) {
    const T* x = values + r * n;
    int64_t* idx = order + r * n;
    const std::vector<double>& w = weights.of(r);
    const int64_t k = static_cast<int64_t>(w.size());
    if (k == 1) {  // max pooling: a scan, no sort
      idx[0] = std::max_element(x, x + n) - x;
      out[r] = x[idx[0]];
      return;
    }
    radix_order(x, n, scratch[worker], idx);
    double acc[4] = {0.0, 0.0, 0.0, 0.0};  // four chains: the adds do not wait on each other
    int64_t j = 0;
    for (; j + 4 <= k; j += 4)
      for (int u = 0; u < 4; ++u) acc[u] += w[j + u] * static_cast<double>(x[idx[j + u]]);
    for (; j < k; ++j) acc[0] += w[j] * static_cast<double>(x[idx[j]]);
    out[r] = static_cast<T>((acc[0] + acc[1]) + (acc[2] + acc[3]));
  });
}

template <class T>
void rank_pool_backward(const T* grad_out, const int64_t* order, int64_t rows, int64_t n, const double* q,
                        T* grad_values, int threads) {
  check(rows, n, q);
  const WeightTables weights(q, rows, n);
  parallel_for(rows, threads, [&](int, int64_t r) {
    T* g = grad_values + r * n;
    const int64_t* idx = order + r * n;
    const std::vector<double>& w = weights.of(r);
    const double scale = static_cast<double>(grad_out[r]);
    std::fill(g, g + n, T(0));
    for (size_t j = 0; j < w.size(); ++j) {
      if (idx[j] < 0 || idx[j] >= n) throw std::invalid_argument("rank pooling order holds a column out of range");
      g[idx[j]] = static_cast<T>(scale * w[j]);
    }
  });
}

template void rank_pool_forward<float>(const float*, int64_t, int64_t, const double*, float*, int64_t*, int);
template void rank_pool_forward<double>(const double*, int64_t, int64_t, const double*, double*, int64_t*, int);
template void rank_pool_backward<float>(const float*, const int64_t*, int64_t, int64_t, const double*, float*, int);
template void rank_pool_backward<double>(const double*, const int64_t*, int64_t, int64_t, const double*, double*,
                                         int);

}  // namespace weaksup
