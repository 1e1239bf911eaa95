// Building blocks shared by every labeling kernel: rows packed into bitmaps, bitmaps
// turned into runs of foreground pixels, and a union-find over runs.
//
// Labeling over runs instead of pixels makes the cost proportional to the number of
// runs (a few per row for CAM blobs), and lets statistics be accumulated per run, so
// background pixels are only ever touched by the SIMD compare that builds the bitmap.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define WEAKSUP_HAVE_SSE2 1
#endif

namespace weaksup {

// Foreground pixels [begin, end) of one row. Widths are < 2^31 (checked in Python).
struct Run {
  int32_t begin;
  int32_t end;
};

inline int64_t words_for(int64_t width) { return (width + 63) / 64; }

inline int ctz64(uint64_t w) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(w);
#else
  int n = 0;
  while (!(w & 1)) { w >>= 1; ++n; }
  return n;
#endif
}

// ---- row bitmaps: bit x of words[x / 64] is set when pixel x is foreground ----
// Each builder compares whole SIMD chunks while they lie within the first `readable`
// elements from `row` (readable >= width; the rest of a contiguous image may be read
// past a row's end), then single elements; bits past `width` are cleared.

namespace detail {
inline void clear_words(uint64_t* words, int64_t width) {
  for (int64_t i = 0, n = words_for(width); i < n; ++i) words[i] = 0;
}
inline void clear_tail(uint64_t* words, int64_t width) {
  if (width & 63) words[(width - 1) >> 6] &= (uint64_t{1} << (width & 63)) - 1;
}
}  // namespace detail

// Foreground = nonzero byte.
inline void bits_nonzero(const uint8_t* row, int64_t width, uint64_t* words, int64_t readable) {
  detail::clear_words(words, width);
  int64_t x = 0;
#ifdef WEAKSUP_HAVE_SSE2
  const __m128i zero = _mm_setzero_si128();
  for (; x < width && x + 16 <= readable; x += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x));
    const uint32_t is_zero = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)));
    words[x >> 6] |= static_cast<uint64_t>(~is_zero & 0xFFFFu) << (x & 63);
  }
#endif
  for (; x < width; ++x) words[x >> 6] |= static_cast<uint64_t>(row[x] != 0) << (x & 63);
  detail::clear_tail(words, width);
}

// Foreground = row[x] >= cut (unsigned bytes).
inline void bits_at_least(const uint8_t* row, int64_t width, uint8_t cut, uint64_t* words, int64_t readable) {
  detail::clear_words(words, width);
  int64_t x = 0;
#ifdef WEAKSUP_HAVE_SSE2
  const __m128i c = _mm_set1_epi8(static_cast<char>(cut));
  for (; x < width && x + 16 <= readable; x += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x));
    __m128i ge = _mm_cmpeq_epi8(_mm_max_epu8(v, c), v);  // max(v, cut) == v  <=>  v >= cut
    words[x >> 6] |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(ge)) & 0xFFFFu) << (x & 63);
  }
#endif
  for (; x < width; ++x) words[x >> 6] |= static_cast<uint64_t>(row[x] >= cut) << (x & 63);
  detail::clear_tail(words, width);
}

inline void bits_at_least(const float* row, int64_t width, float cut, uint64_t* words, int64_t readable) {
  detail::clear_words(words, width);
  int64_t x = 0;
#ifdef WEAKSUP_HAVE_SSE2
  const __m128 c = _mm_set1_ps(cut);
  for (; x < width && x + 16 <= readable; x += 16) {
    uint64_t m = 0;
    for (int k = 0; k < 4; ++k) {
      m |= static_cast<uint64_t>(_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(row + x + 4 * k), c))) << (4 * k);
    }
    words[x >> 6] |= m << (x & 63);
  }
#endif
  for (; x < width; ++x) words[x >> 6] |= static_cast<uint64_t>(row[x] >= cut) << (x & 63);
  detail::clear_tail(words, width);
}

inline void bits_at_least(const double* row, int64_t width, double cut, uint64_t* words, int64_t readable) {
  detail::clear_words(words, width);
  int64_t x = 0;
#ifdef WEAKSUP_HAVE_SSE2
  const __m128d c = _mm_set1_pd(cut);
  for (; x < width && x + 16 <= readable; x += 16) {
    uint64_t m = 0;
    for (int k = 0; k < 8; ++k) {
      m |= static_cast<uint64_t>(_mm_movemask_pd(_mm_cmpge_pd(_mm_loadu_pd(row + x + 2 * k), c))) << (2 * k);
    }
    words[x >> 6] |= m << (x & 63);
  }
#endif
  for (; x < width; ++x) words[x >> 6] |= static_cast<uint64_t>(row[x] >= cut) << (x & 63);
  detail::clear_tail(words, width);
}

// Appends the runs of a row bitmap (bits past `width` must be zero), shifted by `offset`.
inline void append_runs(const uint64_t* words, int64_t width, int32_t offset, std::vector<Run>& out) {
  const int64_t nw = words_for(width);
  bool open = false;
  int64_t start = 0;
  for (int64_t i = 0; i < nw; ++i) {
    const uint64_t w = words[i];
    if (!open && w == 0) continue;
    if (open && w == ~uint64_t{0}) continue;
    uint64_t from = ~uint64_t{0};  // bits at or after the current position
    for (;;) {
      const uint64_t v = (open ? ~w : w) & from;
      if (v == 0) break;
      const int t = ctz64(v);
      if (!open) {
        start = i * 64 + t;
      } else {
        out.push_back({static_cast<int32_t>(start + offset), static_cast<int32_t>(i * 64 + t + offset)});
      }
      open = !open;
      from = ~uint64_t{0} << t;
    }
  }
  if (open) out.push_back({static_cast<int32_t>(start + offset), static_cast<int32_t>(width + offset)});
}

// ---- union-find over run indices ----
// Roots are always the smallest index of their set, so parent[i] <= i, the root of a
// component is its first run in raster order, and one forward pass numbers components
// 1..K in raster order of their first pixel (the order scipy and OpenCV use).
template <class Index>
struct DisjointSets {
  std::vector<Index> parent;

  void reset(size_t n) {
    parent.resize(n);
    for (size_t i = 0; i < n; ++i) parent[i] = static_cast<Index>(i);
  }
  Index find(Index i) {
    while (parent[i] != i) {
      parent[i] = parent[parent[i]];  // path halving
      i = parent[i];
    }
    return i;
  }
  void unite(Index a, Index b) {
    a = find(a);
    b = find(b);
    if (a < b) parent[b] = a;
    else if (b < a) parent[a] = b;
  }
  // Replaces parent[i] by the 1-based component number of run i; returns K.
  Index number_components() {
    Index k = 0;
    for (size_t i = 0; i < parent.size(); ++i) {
      const Index p = parent[i];
      parent[i] = (p == static_cast<Index>(i)) ? ++k : parent[p];
    }
    return k;
  }
};

// Unites runs [a0, a1) of a row with runs [b0, b1) of an earlier neighbouring row.
// `reach` = 1 joins diagonal contacts (8/18/26-connectivity), 0 only shared columns.
// Returns the number of touching pairs (the Euler number of a 2-D mask is
// #runs - #touching pairs: runs are closed rectangles, no three of which meet).
template <class Index>
inline int64_t unite_rows(const Run* runs, Index a0, Index a1, Index b0, Index b1, int reach,
                          DisjointSets<Index>& sets) {
  int64_t touching = 0;
  Index i = a0, j = b0;
  while (i < a1 && j < b1) {
    const Run& a = runs[i];
    const Run& b = runs[j];
    if (b.end + reach <= a.begin) {
      ++j;
    } else if (a.end + reach <= b.begin) {
      ++i;
    } else {
      sets.unite(i, j);
      ++touching;
      if (a.end < b.end) ++i;
      else ++j;
    }
  }
  return touching;
}

}  // namespace weaksup

namespace weaksup {

// A neighbouring earlier row: (dz, dy) relative to the current row, and whether
// diagonal contacts along x count (reach 1) or only shared columns (reach 0).
struct RowNeighbour {
  int dz;
  int dy;
  int reach;
};

// The earlier rows each row connects to, for 4/8 (2-D) and 6/18/26 (3-D) connectivity.
inline std::vector<RowNeighbour> row_neighbours(int connectivity) {
  switch (connectivity) {
    case 4: return {{0, -1, 0}};
    case 8: return {{0, -1, 1}};
    case 6: return {{0, -1, 0}, {-1, 0, 0}};
    case 18: return {{0, -1, 1}, {-1, 0, 1}, {-1, -1, 0}, {-1, 1, 0}};
    case 26: return {{0, -1, 1}, {-1, -1, 1}, {-1, 0, 1}, {-1, 1, 1}};
    default: return {};
  }
}

// Run-based labeling of one volume. Reusable across volumes (keeps its buffers).
template <class Index>
struct RunLabeler {
  std::vector<Run> runs;
  std::vector<Index> row_start;  // runs of row r are [row_start[r], row_start[r + 1])
  std::vector<uint64_t> words;
  DisjointSets<Index> sets;      // after label(): sets.parent[i] = component of run i

  // row_bits(r, words) fills the bitmap of row r (r = z * height + y).
  // Returns the number of components K.
  template <class RowBits>
  Index label(int64_t depth, int64_t height, int64_t width, const std::vector<RowNeighbour>& neighbours,
              RowBits&& row_bits) {
    const int64_t rows = depth * height;
    runs.clear();
    row_start.resize(static_cast<size_t>(rows + 1));
    words.resize(static_cast<size_t>(words_for(width)));
    for (int64_t r = 0; r < rows; ++r) {
      row_start[r] = static_cast<Index>(runs.size());
      row_bits(r, words.data());
      append_runs(words.data(), width, 0, runs);
    }
    row_start[rows] = static_cast<Index>(runs.size());
    sets.reset(runs.size());
    for (int64_t z = 0; z < depth; ++z) {
      for (int64_t y = 0; y < height; ++y) {
        const int64_t r = z * height + y;
        if (row_start[r] == row_start[r + 1]) continue;
        for (const RowNeighbour& n : neighbours) {
          const int64_t zz = z + n.dz, yy = y + n.dy;
          if (zz < 0 || yy < 0 || yy >= height) continue;
          const int64_t rr = zz * height + yy;
          unite_rows(runs.data(), row_start[r], row_start[r + 1], row_start[rr], row_start[rr + 1], n.reach,
                     sets);
        }
      }
    }
    return sets.number_components();
  }
};

}  // namespace weaksup
