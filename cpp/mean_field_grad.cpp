#include "mean_field_grad.hpp"

#include <algorithm>
#include <limits>

#include "parallel.hpp"

namespace weaksup {

namespace {

// g_a = Q (g - sum_l g_l Q_l) per point: the softmax's backward, in place of g.
template <class T>
void softmax_backward(const T* q, T* g, int64_t points, int labels) {
  for (int64_t i = 0; i < points; ++i) {
    const T* qi = q + i * labels;
    T* gi = g + i * labels;
    T dot = 0;
    for (int l = 0; l < labels; ++l) dot += gi[l] * qi[l];
    for (int l = 0; l < labels; ++l) gi[l] = qi[l] * (gi[l] - dot);
  }
}

}  // namespace

template <class T>
void mean_field_backward(const T* history, const T* q, const T* grad, int64_t batch, int iterations, int64_t points,
                         int labels, const std::vector<MeanFieldGradTerm<T>>& terms, T* grad_unary, int threads) {
  const int64_t size = points * labels;
  const int all = resolve_threads(threads, std::numeric_limits<int64_t>::max());
  const bool across = batch > 1 && batch >= all;
  // Per image compat gradients, summed in image order at the end (the same bits whatever
  // the threads).
  std::vector<std::vector<T>> partial(terms.size());
  for (size_t m = 0; m < terms.size(); ++m) {
    if (!terms[m].compat_grad) continue;
    const int64_t count = terms[m].kind == 0 ? 1 : terms[m].kind == 1 ? labels : int64_t{labels} * labels;
    partial[m].assign(static_cast<size_t>(batch * count), T(0));
  }
  parallel_for(batch, across ? all : 1, [&](int, int64_t b) {
    const int inner = across ? 1 : all;
    std::vector<T> g(grad + b * size, grad + (b + 1) * size), g_next(static_cast<size_t>(size));
    std::vector<T> g_filtered(static_cast<size_t>(size)), back(static_cast<size_t>(size)), filtered;
    T* gu = grad_unary + b * size;
    std::fill(gu, gu + size, T(0));
    const T* out = q + b * size;
    for (int t = iterations - 1; t >= -1; --t) {
      softmax_backward(out, g.data(), points, labels);  // g = dL/dA_t (t = -1: Q_0 = softmax(-U))
      for (int64_t e = 0; e < size; ++e) gu[e] -= g[e];
      if (t < 0) break;
      const T* start = history + (b * iterations + t) * size;
      std::fill(g_next.begin(), g_next.end(), T(0));
      for (size_t m = 0; m < terms.size(); ++m) {
        const MeanFieldGradTerm<T>& term = terms[m];
        // dL/dF = -mu^T(dL/dA): Potts w g, diagonal -w_l g_l, matrix -W g (W symmetric).
        for (int64_t i = 0; i < points; ++i) {
          const T* gi = &g[i * labels];
          T* fi = &g_filtered[i * labels];
          for (int l = 0; l < labels; ++l) {
            if (term.kind == 0) {
              fi[l] = term.compat[0] * gi[l];
            } else if (term.kind == 1) {
              fi[l] = -term.compat[l] * gi[l];
            } else {
              T s = 0;
              for (int k = 0; k < labels; ++k) s += term.compat[static_cast<int64_t>(l) * labels + k] * gi[k];
              fi[l] = -s;
            }
          }
        }
        term.kernels->filter_one(b, g_filtered.data(), back.data(), labels, /*transpose=*/true, inner);
        for (int64_t e = 0; e < size; ++e) g_next[e] += back[e];
        if (!term.compat_grad) continue;
        filtered.resize(static_cast<size_t>(size));
        term.kernels->filter_one(b, start, filtered.data(), labels, /*transpose=*/false, inner);
        const int64_t count = term.kind == 0 ? 1 : term.kind == 1 ? labels : int64_t{labels} * labels;
        T* cg = &partial[m][b * count];
        for (int64_t i = 0; i < points; ++i) {
          const T* gi = &g[i * labels];
          const T* fi = &filtered[i * labels];
          for (int l = 0; l < labels; ++l) {
            if (term.kind == 0) {
              cg[0] += gi[l] * fi[l];  // A += w F
            } else if (term.kind == 1) {
              cg[l] -= gi[l] * fi[l];  // A -= w_l F_l
            } else {
              for (int k = 0; k < labels; ++k) cg[static_cast<int64_t>(k) * labels + l] -= fi[k] * gi[l];  // A -= F W
            }
          }
        }
      }
      g.swap(g_next);
      out = start;
    }
  });
  for (size_t m = 0; m < terms.size(); ++m) {
    if (!terms[m].compat_grad) continue;
    const int64_t count = static_cast<int64_t>(partial[m].size()) / batch;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t c = 0; c < count; ++c) terms[m].compat_grad[c] += partial[m][b * count + c];
    }
  }
}

template void mean_field_backward<float>(const float*, const float*, const float*, int64_t, int, int64_t, int,
                                         const std::vector<MeanFieldGradTerm<float>>&, float*, int);
template void mean_field_backward<double>(const double*, const double*, const double*, int64_t, int, int64_t, int,
                                          const std::vector<MeanFieldGradTerm<double>>&, double*, int);

}  // namespace weaksup
