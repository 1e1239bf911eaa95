// Label-model kernels: collapse a label matrix into its distinct vote patterns, then run the
// E-step (and the sufficient statistics of the M-step) over the patterns. The EM loop and
// the M-step itself (tiny: sources x (k+1) x k numbers) live in Python.
//
// A vote of source j for class v is stored as the code j*(k+1) + v + 1; code j*(k+1) would
// be j's abstain, which is never stored. Per-class weight tables are indexed by code, so the
// same kernels serve every model: a pattern's score for class y is
//     bias[y] + sum over its votes of weights[code * k + y].
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace weaksup {

// Distinct rows of a label matrix and how many rows share each.
struct VotePatterns {
  int64_t rows = 0;     // n: rows of the label matrix
  int64_t sources = 0;  // m
  int64_t classes = 0;  // k
  std::vector<int64_t> offsets{0};   // P + 1: votes of pattern p are codes[offsets[p], offsets[p+1])
  std::vector<int32_t> codes;        // in increasing source order within a pattern
  std::vector<double> counts;        // P: rows with this pattern
  std::vector<int64_t> row_pattern;  // n: the pattern of each row
  int64_t patterns() const { return static_cast<int64_t>(counts.size()); }
};

// A label outside [-1, classes): where it is, for the caller's error message.
struct BadLabel : std::invalid_argument {
  BadLabel(int64_t row, int64_t column, int64_t value)
      : std::invalid_argument("label out of range"), row(row), column(column), value(value) {}
  int64_t row, column, value;
};

// Dense (rows, sources) matrix with element strides; -1 means abstain. Patterns are numbered
// in order of first occurrence, so the result does not depend on `threads`.
template <class T>
VotePatterns collapse_dense(const T* labels, int64_t rows, int64_t sources, int64_t row_stride,
                            int64_t column_stride, int64_t classes, int threads);

// Rows given as vote lists (CSR): codes[row_offsets[i], row_offsets[i+1]) in increasing
// source order, one vote per source at most (the caller checks).
VotePatterns collapse_codes(const int64_t* row_offsets, const int32_t* codes, int64_t rows, int64_t sources,
                            int64_t classes, int threads);

// Merges pattern lists (pieces of a label matrix collapsed apart, concatenated in row
// order as CSR offsets / codes with their counts): the distinct patterns in order of first
// occurrence, each with the sum of its counts, over `rows` rows in all. The result equals
// collapsing the whole matrix at once, except that row_pattern is empty (rows unknown).
VotePatterns merge_patterns(const int64_t* offsets, const int32_t* codes, const double* counts, int64_t patterns,
                            int64_t rows, int64_t sources, int64_t classes, int threads);

// Unnormalized class scores per pattern, out: (P, k). With softmax, posteriors instead.
void pattern_scores(const VotePatterns& patterns, const double* weights, const double* bias, bool softmax,
                    double* out, int threads);

// One E-step fused with the M-step's sufficient statistics: with q_p = softmax(score_p),
//   vote_class[code * k + y] = sum_p counts[p] q_p[y] over patterns voting `code`,
//   class_total[y]          = sum_p counts[p] q_p[y].
// Returns sum_p counts[p] * logsumexp(score_p), the log-likelihood up to constants.
// Sums run over fixed blocks of patterns added in order: identical for any thread count.
double em_statistics(const VotePatterns& patterns, const double* weights, const double* bias, double* vote_class,
                     double* class_total, int threads);

// The same statistics for majority-vote posteriors (each class's share of a pattern's votes;
// `empty` (k) for patterns without votes): where EM starts.
void majority_statistics(const VotePatterns& patterns, const double* empty, double* vote_class, double* class_total,
                         int threads);

// vote_class as em_statistics gives it, but only for votes of sources with rules[source] != 0,
// each counted with the softmax of its pattern's score less the other rule votes for the same
// class (its own vote kept): s - sum(weights of those votes). Rows of other sources are zero.
void rule_statistics(const VotePatterns& patterns, const double* weights, const double* bias, const uint8_t* rules,
                     double* vote_class, int threads);

// For holding the class marginal at a target: marginal[y] = sum_p counts[p] q_p[y] and its
// Jacobian with respect to the bias, hessian = sum_p counts[p] (diag(q_p) - q_p q_p^T).
// Returns sum_p counts[p] * logsumexp(score_p).
double class_marginal(const VotePatterns& patterns, const double* weights, const double* bias, double* marginal,
                      double* hessian, int threads);

}  // namespace weaksup
