// The gradient of mean-field inference (CRF as RNN, Zheng et al. 2015) through its
// iterations, for weaksup.torch.crf_mean_field: the update
//   Q_{t+1} = softmax(A_t),  A_t = -U - sum_m mu_m(K_m Q_t)
// (densecrf's mu: Potts -w F, diagonal w_l F_l, matrix W F with W symmetrized) run
// backwards from dL/dQ_T with each Q_t kept from the forward, K_m^T from lattice_filter.
#pragma once

#include <cstdint>
#include <vector>

#include "lattice_filter.hpp"

namespace weaksup {

template <class T>
struct MeanFieldGradTerm {
  const KernelBatch* kernels;
  int kind;              // Compatibility::Kind
  const T* compat;       // 1, labels or labels * labels (symmetric) values
  T* compat_grad;        // the same size, accumulated into; null: not wanted
};

// history (batch, iterations, points, labels): Q_0 .. Q_{T-1}; q (batch, points, labels):
// Q_T; grad: dL/dQ_T (same shape) -> grad_unary (same shape, written); each wanted
// compat_grad gets dL/d(its values) added (summed over images in image order).
template <class T>
void mean_field_backward(const T* history, const T* q, const T* grad, int64_t batch, int iterations, int64_t points,
                         int labels, const std::vector<MeanFieldGradTerm<T>>& terms, T* grad_unary, int threads);

}  // namespace weaksup
