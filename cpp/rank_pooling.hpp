// Global weighted rank pooling (Kolesnikov & Lampert 2016, SEC): for each row x of n
// values, sorted descending as x_(0) >= x_(1) >= ..., G = sum_j q^j x_(j) / sum_j q^j.
// q = 1 is the mean, q = 0 the max (0^0 = 1). Rows are independent and run in parallel.
#pragma once
#include <cstdint>

namespace weaksup {

// How many leading ranks carry a nonzero weight q^j (in double): n, or fewer where q^j
// underflows to 0 (1 for q = 0). Only these ranks are sorted and saved.
int64_t rank_pool_support(double q, int64_t n);

// values: rows x n, row-major, finite (the order of NaNs is undefined). q: one decay per
// row, in [0, 1]. out[r] = G of row r. order (rows x n): its first
// rank_pool_support(q[r], n) entries in row r are the column indices of row r's values in
// descending order (ties in any order: equal values give the same G); the rest are
// unspecified. Sums run in double.
template <class T>
void rank_pool_forward(const T* values, int64_t rows, int64_t n, const double* q, T* out, int64_t* order,
                       int threads);

// The gradient of G: grad_values[r, order[r, j]] = grad_out[r] * q[r]^j / sum_j q[r]^j
// and 0 at every column with a zero weight. grad_values is rows x n, row-major.
template <class T>
void rank_pool_backward(const T* grad_out, const int64_t* order, int64_t rows, int64_t n, const double* q,
                        T* grad_values, int threads);

}  // namespace weaksup
