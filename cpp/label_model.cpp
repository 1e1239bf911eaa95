#include "label_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "parallel.hpp"

namespace weaksup {
namespace {

constexpr int64_t kHashBlock = 1 << 14;  // rows hashed per parallel work item

inline uint64_t mix(uint64_t h, uint64_t value) {
  h ^= value + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

inline uint64_t finish(uint64_t h) {  // murmur3's finalizer: spreads the low bits used by the table
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// A dense label matrix seen through its element strides (either may be negative).
template <class T>
struct DenseRows {
  const T* labels;
  int64_t sources, row_stride, column_stride, classes;

  const T* row(int64_t i) const { return labels + i * row_stride; }

  // Hash of row i; throws BadLabel for the first value outside [-1, classes).
  uint64_t hash(int64_t i) const {
    const T* r = row(i);
    if (column_stride == 1) {  // contiguous row: check with a vectorizable loop, hash 8 bytes at a time
      bool bad = false;
      for (int64_t j = 0; j < sources; ++j) bad |= (r[j] < -1) | (static_cast<int64_t>(r[j]) >= classes);
      if (bad) throw_bad(i);
      const int64_t bytes = sources * static_cast<int64_t>(sizeof(T));
      const unsigned char* b = reinterpret_cast<const unsigned char*>(r);
      uint64_t h = static_cast<uint64_t>(bytes), word;
      int64_t at = 0;
      for (; at + 8 <= bytes; at += 8) {
        std::memcpy(&word, b + at, 8);
        h = mix(h, word);
      }
      word = 0;
      // Not for an empty row: memcpy from a null pointer is undefined even for 0 bytes.
      if (at < bytes) std::memcpy(&word, b + at, static_cast<size_t>(bytes - at));
      return finish(mix(h, word));
    }
    uint64_t h = 0;
    for (int64_t j = 0; j < sources; ++j) {
      const int64_t v = static_cast<int64_t>(r[j * column_stride]);
      if (v < -1 || v >= classes) throw BadLabel(i, j, v);
      h = mix(h, static_cast<uint64_t>(v + 1));
    }
    return finish(h);
  }
  [[noreturn]] void throw_bad(int64_t i) const {
    const T* r = row(i);
    for (int64_t j = 0;; ++j) {
      const int64_t v = static_cast<int64_t>(r[j * column_stride]);
      if (v < -1 || v >= classes) throw BadLabel(i, j, v);
    }
  }
  bool same(int64_t a, int64_t b) const {
    const T *ra = row(a), *rb = row(b);
    for (int64_t j = 0; j < sources; ++j)
      if (ra[j * column_stride] != rb[j * column_stride]) return false;
    return true;
  }
  template <class Fn>
  void for_votes(int64_t i, Fn&& fn) const {
    const T* r = row(i);
    for (int64_t j = 0; j < sources; ++j) {
      const int64_t v = static_cast<int64_t>(r[j * column_stride]);
      if (v >= 0) fn(static_cast<int32_t>(j * (classes + 1) + v + 1));
    }
  }
};

// Rows given as code lists.
struct CodeRows {
  const int64_t* offsets;
  const int32_t* codes;

  uint64_t hash(int64_t i) const {
    uint64_t h = 0;
    for (int64_t at = offsets[i]; at < offsets[i + 1]; ++at) h = mix(h, static_cast<uint64_t>(codes[at]));
    return finish(h);
  }
  bool same(int64_t a, int64_t b) const {
    const int64_t length = offsets[a + 1] - offsets[a];
    return length == offsets[b + 1] - offsets[b] && std::equal(codes + offsets[a], codes + offsets[a + 1], codes + offsets[b]);
  }
  template <class Fn>
  void for_votes(int64_t i, Fn&& fn) const {
    for (int64_t at = offsets[i]; at < offsets[i + 1]; ++at) fn(codes[at]);
  }
};

// Inserts rows in order into an open-addressing table, numbering patterns by first occurrence.
// A slot keeps (part of) the pattern's hash beside its index, so a probe is one cache miss;
// 32-bit slots halve the table (and the page faults of touching it) below 2^31 rows.
template <class Tag, class Index, class Rows>
void insert_rows(const Rows& rows, const std::vector<uint64_t>& hashes, int64_t n, std::vector<int64_t>& first_row,
                 VotePatterns& out) {
  struct Slot {
    Tag tag;
    Index pattern;  // -1: empty
  };
  uint64_t capacity = 16;
  while (capacity < static_cast<uint64_t>(n) * 2) capacity *= 2;
  const uint64_t mask = capacity - 1;
  std::vector<Slot> table(capacity, Slot{0, -1});
  constexpr int64_t kAhead = 16;  // rows whose slots are fetched ahead
  for (int64_t i = 0; i < n; ++i) {
#if defined(__GNUC__)
    if (i + kAhead < n) __builtin_prefetch(&table[hashes[i + kAhead] & mask]);
#endif
    const uint64_t h = hashes[i];
    const Tag tag = static_cast<Tag>(h >> (64 - 8 * sizeof(Tag)));
    uint64_t slot = h & mask;
    int64_t p;
    while ((p = table[slot].pattern) >= 0) {
      if (table[slot].tag == tag && rows.same(first_row[p], i)) break;
      slot = (slot + 1) & mask;
    }
    if (p < 0) {
      p = static_cast<int64_t>(first_row.size());
      table[slot] = Slot{tag, static_cast<Index>(p)};
      first_row.push_back(i);
      out.counts.push_back(0.0);
    }
    out.counts[p] += 1.0;
    out.row_pattern[i] = p;
  }
}

// Hash every row in parallel, then insert rows in order into an open-addressing table, so
// patterns are numbered by first occurrence whatever the thread count.
template <class Rows>
VotePatterns collapse(const Rows& rows, int64_t n, int64_t sources, int64_t classes, int threads) {
  VotePatterns out;
  out.rows = n;
  out.sources = sources;
  out.classes = classes;
  out.row_pattern.resize(n);
  std::vector<uint64_t> hashes(n);
  const int64_t blocks = (n + kHashBlock - 1) / kHashBlock;
  // A bad label is reported at its first row, whichever thread meets it first.
  std::vector<BadLabel> bad(blocks, BadLabel(-1, 0, 0));
  parallel_for(blocks, threads, [&](int, int64_t block) {
    const int64_t end = std::min(n, (block + 1) * kHashBlock);
    try {
      for (int64_t i = block * kHashBlock; i < end; ++i) hashes[i] = rows.hash(i);
    } catch (const BadLabel& e) {
      bad[block] = e;
    }
  });
  for (const BadLabel& e : bad)
    if (e.row >= 0) throw e;

  std::vector<int64_t> first_row;  // per pattern
  first_row.reserve(n);             // reserved, not touched: costs no memory until used
  out.counts.reserve(n);
  if (n < std::numeric_limits<int32_t>::max())
    insert_rows<uint32_t, int32_t>(rows, hashes, n, first_row, out);
  else
    insert_rows<uint64_t, int64_t>(rows, hashes, n, first_row, out);
  std::vector<uint64_t>().swap(hashes);

  const int64_t count = static_cast<int64_t>(first_row.size());
  out.offsets.assign(count + 1, 0);
  parallel_for((count + kHashBlock - 1) / kHashBlock, threads, [&](int, int64_t block) {
    const int64_t end = std::min(count, (block + 1) * kHashBlock);
    for (int64_t p = block * kHashBlock; p < end; ++p) {
      int64_t votes = 0;
      rows.for_votes(first_row[p], [&](int32_t) { ++votes; });
      out.offsets[p + 1] = votes;
    }
  });
  for (int64_t p = 0; p < count; ++p) out.offsets[p + 1] += out.offsets[p];
  out.codes.resize(out.offsets[count]);
  parallel_for((count + kHashBlock - 1) / kHashBlock, threads, [&](int, int64_t block) {
    const int64_t end = std::min(count, (block + 1) * kHashBlock);
    for (int64_t p = block * kHashBlock; p < end; ++p) {
      int32_t* at = out.codes.data() + out.offsets[p];
      rows.for_votes(first_row[p], [&](int32_t code) { *at++ = code; });
    }
  });
  return out;
}

// A fixed split of the patterns into blocks, from the problem size alone, so that sums
// added block by block are identical for any thread count. Each block keeps its own
// `table` partial sums, so big tables get fewer blocks.
struct Blocks {
  int64_t count, size;
};

Blocks fixed_blocks(int64_t patterns, int64_t table) {
  constexpr int64_t kMinBlock = 2048, kMaxBlocks = 256, kBudget = (64 << 20) / sizeof(double);
  int64_t count = (patterns + kMinBlock - 1) / kMinBlock;
  count = std::min({count, kMaxBlocks, std::max<int64_t>(1, kBudget / std::max<int64_t>(1, table))});
  count = std::max<int64_t>(1, count);
  return {count, (patterns + count - 1) / count};
}

// Adds the block tables into out[0, table) in block order, in parallel over the table.
void reduce_blocks(const std::vector<double>& partial, int64_t blocks, int64_t table, double* out, int threads) {
  constexpr int64_t kChunk = 4096;
  parallel_for((table + kChunk - 1) / kChunk, threads, [&](int, int64_t chunk) {
    const int64_t end = std::min(table, (chunk + 1) * kChunk);
    for (int64_t x = chunk * kChunk; x < end; ++x) {
      double sum = 0.0;
      for (int64_t b = 0; b < blocks; ++b) sum += partial[b * table + x];
      out[x] = sum;
    }
  });
}

// Calls fn(std::integral_constant<int, K>{}) with K = k for the class counts worth a fully
// unrolled inner loop, K = 0 (k read at run time) otherwise.
template <class Fn>
decltype(auto) with_classes(int64_t k, Fn&& fn) {
  switch (k) {
    case 2: return fn(std::integral_constant<int, 2>{});
    case 3: return fn(std::integral_constant<int, 3>{});
    case 4: return fn(std::integral_constant<int, 4>{});
    case 5: return fn(std::integral_constant<int, 5>{});
    case 6: return fn(std::integral_constant<int, 6>{});
    case 8: return fn(std::integral_constant<int, 8>{});
    case 10: return fn(std::integral_constant<int, 10>{});
    default: return fn(std::integral_constant<int, 0>{});
  }
}

// s = bias + the weights of every vote of pattern p.
template <int K>
inline void add_votes(const VotePatterns& vp, int64_t p, const double* weights, const double* bias, double* s) {
  const int64_t k = K ? K : vp.classes;
  for (int64_t y = 0; y < k; ++y) s[y] = bias[y];
  for (int64_t at = vp.offsets[p]; at < vp.offsets[p + 1]; ++at) {
    const double* w = weights + static_cast<int64_t>(vp.codes[at]) * k;
    for (int64_t y = 0; y < k; ++y) s[y] += w[y];
  }
}

// exp(x) for x <= 0 (a score minus its row's maximum) within a few 1e-16, written without
// calls or branches so that the loop over classes vectorizes: 2^n e^r, |r| <= ln2 / 2, e^r
// by its Taylor series to r^13 / 13! (remainder below 1e-17).
inline double exp_nonpositive(double x) {
  constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  x = std::max(x, -708.0);                      // 2^-1021: still a normal double
  const double shifted = x * 1.4426950408889634 + kRound;
  const double n = shifted - kRound;
  const double r = (x - n * 0.6931471805598903) - n * 5.497923018708371e-14;
  double e = 1.0 / 6227020800.0;
  e = e * r + 1.0 / 479001600.0;
  e = e * r + 1.0 / 39916800.0;
  e = e * r + 1.0 / 3628800.0;
  e = e * r + 1.0 / 362880.0;
  e = e * r + 1.0 / 40320.0;
  e = e * r + 1.0 / 5040.0;
  e = e * r + 1.0 / 720.0;
  e = e * r + 1.0 / 120.0;
  e = e * r + 1.0 / 24.0;
  e = e * r + 1.0 / 6.0;
  e = e * r + 0.5;
  e = e * r + 1.0;
  e = e * r + 1.0;
  // n sits in the low bits of `shifted`; 2^n is n + 1023 in the exponent field.
  int64_t bits, round_bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  std::memcpy(&round_bits, &kRound, sizeof round_bits);
  const int64_t scale_bits = (bits - round_bits + 1023) << 52;
  double scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return e * scale;
}

// q = softmax(score of pattern p); returns logsumexp(score).
template <int K>
inline double score_pattern(const VotePatterns& vp, int64_t p, const double* weights, const double* bias, double* q) {
  const int64_t k = K ? K : vp.classes;
  add_votes<K>(vp, p, weights, bias, q);
  double top = q[0];
  for (int64_t y = 1; y < k; ++y) top = std::max(top, q[y]);
  double total = 0.0;
  for (int64_t y = 0; y < k; ++y) q[y] = exp_nonpositive(q[y] - top);
  for (int64_t y = 0; y < k; ++y) total += q[y];
  const double inverse = 1.0 / total;
  for (int64_t y = 0; y < k; ++y) q[y] *= inverse;
  return top + std::log(total);
}

// Runs add(p, sums, q) for every pattern, each fixed block of patterns into its own zeroed
// `table` of partial sums (q: k doubles of scratch), and returns the blocks' sums added in
// block order, so the result is the same for any thread count.
template <class Add>
std::vector<double> block_sums(const VotePatterns& vp, int64_t table, Add&& add, int threads) {
  const int64_t count = vp.patterns();
  const Blocks blocks = fixed_blocks(count, table);
  std::vector<double> partial(blocks.count * table);
  parallel_for(blocks.count, threads, [&](int, int64_t block) {
    double* sums = partial.data() + block * table;
    std::fill(sums, sums + table, 0.0);
    std::vector<double> q(vp.classes);
    const int64_t end = std::min(count, (block + 1) * blocks.size);
    for (int64_t p = block * blocks.size; p < end; ++p) add(p, sums, q.data());
  });
  std::vector<double> total(table);
  reduce_blocks(partial, blocks.count, table, total.data(), threads);
  return total;
}

// Expected counts for posteriors given by `posterior(p, q)`, which fills q_p and returns
// what the pattern adds to the log-likelihood.
template <int K, class Posterior>
double vote_statistics(const VotePatterns& vp, Posterior&& posterior, double* vote_class, double* class_total,
                       int threads) {
  const int64_t k = K ? K : vp.classes;
  const int64_t votes = vp.sources * (k + 1) * k;
  const int64_t table = votes + k + 1;  // vote_class, class_total, log-likelihood
  const auto add = [&](int64_t p, double* sums, double* q) {
    const double c = vp.counts[p];
    sums[votes + k] += c * posterior(p, q);
    for (int64_t y = 0; y < k; ++y) q[y] *= c;
    for (int64_t y = 0; y < k; ++y) sums[votes + y] += q[y];
    for (int64_t at = vp.offsets[p]; at < vp.offsets[p + 1]; ++at) {
      double* s = sums + static_cast<int64_t>(vp.codes[at]) * k;
      for (int64_t y = 0; y < k; ++y) s[y] += q[y];
    }
  };
  const std::vector<double> total = block_sums(vp, table, add, threads);
  std::copy(total.begin(), total.begin() + votes, vote_class);
  std::copy(total.begin() + votes, total.begin() + votes + k, class_total);
  return total[votes + k];
}

}  // namespace

template <class T>
VotePatterns collapse_dense(const T* labels, int64_t rows, int64_t sources, int64_t row_stride,
                            int64_t column_stride, int64_t classes, int threads) {
  return collapse(DenseRows<T>{labels, sources, row_stride, column_stride, classes}, rows, sources, classes, threads);
}

template VotePatterns collapse_dense<int8_t>(const int8_t*, int64_t, int64_t, int64_t, int64_t, int64_t, int);
template VotePatterns collapse_dense<int16_t>(const int16_t*, int64_t, int64_t, int64_t, int64_t, int64_t, int);
template VotePatterns collapse_dense<int32_t>(const int32_t*, int64_t, int64_t, int64_t, int64_t, int64_t, int);
template VotePatterns collapse_dense<int64_t>(const int64_t*, int64_t, int64_t, int64_t, int64_t, int64_t, int);

VotePatterns collapse_codes(const int64_t* row_offsets, const int32_t* codes, int64_t rows, int64_t sources,
                            int64_t classes, int threads) {
  return collapse(CodeRows{row_offsets, codes}, rows, sources, classes, threads);
}

VotePatterns merge_patterns(const int64_t* offsets, const int32_t* codes, const double* counts, int64_t patterns,
                            int64_t rows, int64_t sources, int64_t classes, int threads) {
  VotePatterns out = collapse_codes(offsets, codes, patterns, sources, classes, threads);
  std::vector<double> summed(static_cast<size_t>(out.patterns()), 0.0);
  for (int64_t p = 0; p < patterns; ++p) summed[out.row_pattern[p]] += counts[p];  // whole numbers: exact
  out.counts = std::move(summed);
  out.rows = rows;
  out.row_pattern = {};
  return out;
}

void pattern_scores(const VotePatterns& vp, const double* weights, const double* bias, bool softmax, double* out,
                    int threads) {
  with_classes(vp.classes, [&](auto K) {
    const int64_t k = vp.classes, count = vp.patterns();
    parallel_for((count + kHashBlock - 1) / kHashBlock, threads, [&](int, int64_t block) {
      const int64_t end = std::min(count, (block + 1) * kHashBlock);
      for (int64_t p = block * kHashBlock; p < end; ++p) {
        if (softmax)
          score_pattern<K>(vp, p, weights, bias, out + p * k);
        else
          add_votes<K>(vp, p, weights, bias, out + p * k);
      }
    });
  });
}

double em_statistics(const VotePatterns& vp, const double* weights, const double* bias, double* vote_class,
                     double* class_total, int threads) {
  return with_classes(vp.classes, [&](auto K) {
    return vote_statistics<K>(
        vp, [&](int64_t p, double* q) { return score_pattern<K>(vp, p, weights, bias, q); }, vote_class,
        class_total, threads);
  });
}

void majority_statistics(const VotePatterns& vp, const double* empty, double* vote_class, double* class_total,
                         int threads) {
  const int64_t k = vp.classes;
  vote_statistics<0>(
      vp,
      [&](int64_t p, double* q) {
        const int64_t begin = vp.offsets[p], end = vp.offsets[p + 1];
        if (begin == end) {
          std::copy(empty, empty + k, q);
          return 0.0;
        }
        std::fill(q, q + k, 0.0);
        for (int64_t at = begin; at < end; ++at) q[vp.codes[at] % (k + 1) - 1] += 1.0;
        const double share = 1.0 / static_cast<double>(end - begin);
        for (int64_t y = 0; y < k; ++y) q[y] *= share;
        return 0.0;
      },
      vote_class, class_total, threads);
}

void rule_statistics(const VotePatterns& vp, const double* weights, const double* bias, const uint8_t* rules,
                     double* vote_class, int threads) {
  with_classes(vp.classes, [&](auto K) {
    const int64_t k = K ? K : vp.classes;
    const int64_t table = vp.sources * (k + 1) * k;
    const auto add = [&](int64_t p, double* sums, double* s) {
      // Per thread: the slot of each class among this pattern's rule votes (-1: none yet); per
      // slot the summed weights of those votes, then exp(s - sum - max) and its total.
      thread_local std::vector<int64_t> slot_tls, members_tls;
      thread_local std::vector<double> together_tls, shared_tls, q_tls, full_tls;
      // References taken once per pattern: every use of a thread_local may look it up again.
      std::vector<int64_t>&slot = slot_tls, &members = members_tls;
      std::vector<double>&together = together_tls, &shared = shared_tls, &q = q_tls, &full = full_tls;
      if (static_cast<int64_t>(slot.size()) < k) slot.assign(k, -1);
      q.resize(k);
      full.resize(k);
      const int64_t begin = vp.offsets[p], end = vp.offsets[p + 1];
      if (static_cast<int64_t>(together.size()) < (end - begin) * (k + 1)) {
        together.resize((end - begin) * (k + 1));
        shared.resize((end - begin) * (k + 1));
        members.resize(end - begin);
      }
      add_votes<K>(vp, p, weights, bias, s);
      int64_t slots = 0;
      for (int64_t at = begin; at < end; ++at) {
        const int64_t code = vp.codes[at];
        if (!rules[code / (k + 1)]) continue;
        const int64_t c = code % (k + 1) - 1;
        if (slot[c] < 0) {
          slot[c] = slots++;
          members[slot[c]] = 0;
          std::fill(together.begin() + slot[c] * k, together.begin() + (slot[c] + 1) * k, 0.0);
        }
        ++members[slot[c]];
        const double* w = weights + code * k;
        double* g = together.data() + slot[c] * k;
        for (int64_t y = 0; y < k; ++y) g[y] += w[y];
      }
      // The pattern's softmax without a group: e = exp(s - g - max), k exps per group. A group
      // of one vote leaves nothing out: its row is the pattern's own softmax, computed once.
      for (int64_t at = 0; at < slots; ++at) {
        if (members[at] == 1) continue;
        const double* g = together.data() + at * k;
        double* e = shared.data() + at * (k + 1);
        for (int64_t y = 0; y < k; ++y) e[y] = s[y] - g[y];
        double top = e[0];
        for (int64_t y = 1; y < k; ++y) top = std::max(top, e[y]);
        double total = 0.0;
        for (int64_t y = 0; y < k; ++y) e[y] = exp_nonpositive(e[y] - top);
        for (int64_t y = 0; y < k; ++y) total += e[y];
        e[k] = total;
      }
      const double count = vp.counts[p];
      bool have_full = false;
      for (int64_t at = begin; at < end; ++at) {
        const int64_t code = vp.codes[at];
        if (!rules[code / (k + 1)]) continue;
        const int64_t c = code % (k + 1) - 1;
        const double* w = weights + code * k;
        double* out = sums + code * k;
        if (members[slot[c]] == 1) {
          if (!have_full) {
            for (int64_t y = 0; y < k; ++y) full[y] = s[y];
            double top = full[0];
            for (int64_t y = 1; y < k; ++y) top = std::max(top, full[y]);
            double total = 0.0;
            for (int64_t y = 0; y < k; ++y) full[y] = exp_nonpositive(full[y] - top);
            for (int64_t y = 0; y < k; ++y) total += full[y];
            for (int64_t y = 0; y < k; ++y) full[y] /= total;
            have_full = true;
          }
          for (int64_t y = 0; y < k; ++y) out[y] += count * full[y];
          continue;
        }
        // A rule's row is usually two-valued: w[c], and one number for every other class (a
        // symmetric table, up to rounding: within 1e-13 in log space, 1e-13 relative in the
        // probabilities). Then its softmax is the group's e with e[c] scaled by
        // exp(w[c] - other): one exp per vote. Other rows take k exps of their own.
        const double other = w[c == 0 ? 1 : 0];
        const double slack = 1e-13 * (1.0 + std::abs(other));
        bool two_valued = std::abs(w[c] - other) < 700.0;
        for (int64_t y = 0; y < k && two_valued; ++y) two_valued = y == c || std::abs(w[y] - other) <= slack;
        if (two_valued) {
          const double* e = shared.data() + slot[c] * (k + 1);
          const double boost = e[c] * std::exp(w[c] - other);
          const double scale = count / (e[k] - e[c] + boost);
          for (int64_t y = 0; y < k; ++y) out[y] += e[y] * scale;
          out[c] += (boost - e[c]) * scale;
          continue;
        }
        const double* g = together.data() + slot[c] * k;
        for (int64_t y = 0; y < k; ++y) q[y] = s[y] - g[y] + w[y];
        double top = q[0];
        for (int64_t y = 1; y < k; ++y) top = std::max(top, q[y]);
        double total = 0.0;
        for (int64_t y = 0; y < k; ++y) q[y] = exp_nonpositive(q[y] - top);
        for (int64_t y = 0; y < k; ++y) total += q[y];
        const double scale = count / total;
        for (int64_t y = 0; y < k; ++y) out[y] += q[y] * scale;
      }
      for (int64_t at = begin; at < end; ++at)
        if (rules[vp.codes[at] / (k + 1)]) slot[vp.codes[at] % (k + 1) - 1] = -1;
    };
    const std::vector<double> total = block_sums(vp, table, add, threads);
    std::copy(total.begin(), total.end(), vote_class);
  });
}

double class_marginal(const VotePatterns& vp, const double* weights, const double* bias, double* marginal,
                      double* hessian, int threads) {
  return with_classes(vp.classes, [&](auto K) {
    const int64_t k = K ? K : vp.classes;
    const auto add = [&](int64_t p, double* sums, double* q) {
      const double c = vp.counts[p];
      sums[k + k * k] += c * score_pattern<K>(vp, p, weights, bias, q);
      for (int64_t y = 0; y < k; ++y) {
        const double cq = c * q[y];
        sums[y] += cq;
        double* row = sums + k + y * k;
        for (int64_t z = 0; z < k; ++z) row[z] -= cq * q[z];
        row[y] += cq;
      }
    };
    const std::vector<double> total = block_sums(vp, k + k * k + 1, add, threads);
    std::copy(total.begin(), total.begin() + k, marginal);
    std::copy(total.begin() + k, total.begin() + k + k * k, hessian);
    return total[k + k * k];
  });
}

}  // namespace weaksup
