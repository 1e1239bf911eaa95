#include "rank_pooling.hpp"

#include <algorithm>
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

// sum_j q^j over the first k ranks, with the weights made the same way as everywhere.
double weight_sum(double q, int64_t k) {
  double z = 0.0, w = 1.0;
  for (int64_t j = 0; j < k; ++j, w *= q) z += w;
  return z;
}

void check(int64_t rows, int64_t n, const double* q) {
  if (rows < 0 || n <= 0) throw std::invalid_argument("rank pooling needs rows >= 0 and n >= 1 values per row");
  for (int64_t r = 0; r < rows; ++r)
    if (!(q[r] >= 0.0 && q[r] <= 1.0)) throw std::invalid_argument("rank pooling decay q must be in [0, 1]");
}

}  // namespace

template <class T>
void rank_pool_forward(const T* values, int64_t rows, int64_t n, const double* q, T* out, int64_t* order,
                       int threads) {
  check(rows, n, q);
  // Sorting (value, column) pairs keeps the comparisons on contiguous memory.
  std::vector<std::vector<std::pair<T, int64_t>>> scratch(resolve_threads(threads, rows));
  parallel_for(rows, threads, [&](int worker, int64_t r) {
    const T* x = values + r * n;
    int64_t* idx = order + r * n;
    const int64_t k = rank_pool_support(q[r], n);
    if (k == 1) {  // max pooling: a scan, no sort
      idx[0] = std::max_element(x, x + n) - x;
      out[r] = x[idx[0]];
      return;
    }
    auto& pairs = scratch[worker];
    pairs.resize(n);
    for (int64_t i = 0; i < n; ++i) pairs[i] = {x[i], i};
    const auto desc = [](const std::pair<T, int64_t>& a, const std::pair<T, int64_t>& b) { return a.first > b.first; };
    if (k < n) {
      std::nth_element(pairs.begin(), pairs.begin() + k, pairs.end(), desc);
      std::sort(pairs.begin(), pairs.begin() + k, desc);
    } else {
      std::sort(pairs.begin(), pairs.end(), desc);
    }
    double acc = 0.0, w = 1.0;
    for (int64_t j = 0; j < k; ++j, w *= q[r]) {
      acc += w * static_cast<double>(pairs[j].first);
      idx[j] = pairs[j].second;
    }
    out[r] = static_cast<T>(acc / weight_sum(q[r], k));
  });
}

template <class T>
void rank_pool_backward(const T* grad_out, const int64_t* order, int64_t rows, int64_t n, const double* q,
                        T* grad_values, int threads) {
  check(rows, n, q);
  parallel_for(rows, threads, [&](int, int64_t r) {
    T* g = grad_values + r * n;
    const int64_t* idx = order + r * n;
    std::fill(g, g + n, T(0));
    const int64_t k = rank_pool_support(q[r], n);
    const double scale = static_cast<double>(grad_out[r]) / weight_sum(q[r], k);
    double w = 1.0;
    for (int64_t j = 0; j < k; ++j, w *= q[r]) {
      if (idx[j] < 0 || idx[j] >= n) throw std::invalid_argument("rank pooling order holds a column out of range");
      g[idx[j]] = static_cast<T>(scale * w);
    }
  });
}

template void rank_pool_forward<float>(const float*, int64_t, int64_t, const double*, float*, int64_t*, int);
template void rank_pool_forward<double>(const double*, int64_t, int64_t, const double*, double*, int64_t*, int);
template void rank_pool_backward<float>(const float*, const int64_t*, int64_t, int64_t, const double*, float*, int);
template void rank_pool_backward<double>(const double*, const int64_t*, int64_t, int64_t, const double*, double*,
                                         int);

}  // namespace weaksup
