#include "wsol.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "exact.hpp"
#include "parallel.hpp"
#include "runs.hpp"
#include "value_range.hpp"

namespace weaksup {

namespace {

// Half-open pixel rectangle [x0, x1) x [y0, y1).
struct Region {
  int64_t x0, y0, x1, y1;
};

// Pixels [begin, end) of a row, all foreground or all background.
struct Segment {
  int32_t begin;
  int32_t end;
  int32_t fg;
};

// Appends the segments tiling a row bitmap of `width` pixels (bits past it zero),
// alternating background and foreground, with columns shifted by `offset`.
inline void append_segments(const uint64_t* words, int64_t width, int32_t offset, std::vector<Segment>& out) {
  const int64_t nw = words_for(width);
  int32_t fg = 0;
  int64_t start = 0;
  for (int64_t i = 0; i < nw; ++i) {
    const uint64_t w = words[i];
    if (w == (fg ? ~uint64_t{0} : uint64_t{0})) continue;
    uint64_t from = ~uint64_t{0};  // bits at or after the current position
    for (;;) {
      const uint64_t v = (fg ? ~w : w) & from;
      if (v == 0) break;
      const int t = ctz64(v);
      const int64_t at = i * 64 + t;
      if (at >= width) break;
      if (at > start) out.push_back({static_cast<int32_t>(start + offset), static_cast<int32_t>(at + offset), fg});
      start = at;
      fg = !fg;
      from = ~uint64_t{0} << t;
    }
  }
  if (start < width) out.push_back({static_cast<int32_t>(start + offset), static_cast<int32_t>(width + offset), fg});
}

// Runs, row after row: row y in [first, end) holds run[row_start[y] .. row_start[y + 1]),
// the other rows none. Walking only [first, end) skips the empty rows of small masks.
struct RunRows {
  const Run* run;
  const int32_t* row_start;  // valid at [first, end]
  int64_t first, end;

  // The rows of `height` that hold runs, found in a row_start over all of them.
  static RunRows over(const Run* run, const int32_t* row_start, int64_t height) {
    const int32_t* stop = row_start + height + 1;
    const int64_t first = std::upper_bound(row_start, stop, row_start[0]) - row_start - 1;
    const int64_t end = std::lower_bound(row_start, stop, row_start[height]) - row_start;
    return {run, row_start, first, std::max(first, end)};
  }
  int32_t begin_index() const { return row_start[first]; }
  int32_t end_index() const { return row_start[end]; }
  int32_t size() const { return end_index() - begin_index(); }
  const Run& operator[](int32_t i) const { return run[i]; }
};

// The runs of every cut level of one map from a single pass over its rows. Masks nest:
// a pixel of value v is foreground at exactly the levels below v, so between two
// neighbouring pixels runs start or end only at the levels between their values.
class LevelRuns {
 public:
  // levels: ascending cut levels (mask = value > level).
  void build(const uint8_t* s, int64_t height, int64_t width, const std::vector<int64_t>& levels) {
    const size_t k = levels.size();
    height_ = height;
    runs_.resize(k);
    row_start_.resize(k);
    for (size_t l = 0; l < k; ++l) {
      runs_[l].clear();
      row_start_[l].resize(static_cast<size_t>(height + 1));
    }
    uint16_t below[256];  // levels below each value: its pixels are foreground at levels [0, below)
    for (int v = 0, l = 0; v < 256; ++v) {
      while (static_cast<size_t>(l) < k && levels[l] < v) ++l;
      below[v] = static_cast<uint16_t>(l);
    }
    open_.resize(k);
    // The row's level counts, between a 0 before it and 0s after it (every run ends at
    // the row's end), padded for whole 16-pixel loads.
    const int32_t w = static_cast<int32_t>(width);
    counts_.assign(static_cast<size_t>(w + 1 + 16), 0);
    uint16_t* count = counts_.data() + 1;
    for (int64_t y = 0; y < height; ++y) {
      for (size_t l = 0; l < k; ++l) row_start_[l][y] = static_cast<int32_t>(runs_[l].size());
      const uint8_t* row = s + y * width;
      for (int32_t x = 0; x < w; ++x) count[x] = below[row[x]];
      int32_t prev = 0;
      for (int32_t base = 0; base <= w; base += 16) {
        uint32_t crossings = crossings_at(count + base);  // bit i: count[base + i] != count[base + i - 1]
        if (w + 1 - base < 16) crossings &= (uint32_t{1} << (w + 1 - base)) - 1;
        while (crossings) {
          const int32_t x = base + ctz64(crossings);
          crossings &= crossings - 1;
          const int32_t c = count[x];
          if (c > prev) {
            for (int32_t l = prev; l < c; ++l) open_[l] = x;  // runs start
          } else {
            for (int32_t l = c; l < prev; ++l) runs_[l].push_back({open_[l], x});  // runs end
          }
          prev = c;
        }
      }
    }
    for (size_t l = 0; l < k; ++l) row_start_[l][height] = static_cast<int32_t>(runs_[l].size());
  }

  RunRows level(size_t l) const { return RunRows::over(runs_[l].data(), row_start_[l].data(), height_); }

 private:
  int64_t height_ = 0;
  std::vector<std::vector<Run>> runs_;          // per level, row after row
  std::vector<std::vector<int32_t>> row_start_;  // per level: runs of row y start here
  std::vector<int32_t> open_;
  std::vector<uint16_t> counts_;

  // Bit i set where p[i] differs from p[i - 1], for i in [0, 16).
  static uint32_t crossings_at(const uint16_t* p) {
#ifdef WEAKSUP_HAVE_SSE2
    const __m128i lo = _mm_cmpeq_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)),
                                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(p - 1)));
    const __m128i hi = _mm_cmpeq_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)),
                                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 7)));
    return ~static_cast<uint32_t>(_mm_movemask_epi8(_mm_packs_epi16(lo, hi))) & 0xffffu;
#else
    uint32_t bits = 0;
    for (int i = 0; i < 16; ++i) bits |= static_cast<uint32_t>(p[i] != p[i - 1]) << i;
    return bits;
#endif
  }
};

// The components of a row-ordered run list, joined across consecutive rows, each boxed
// at its root: its first run, whose index is the smallest (as in DisjointSets). One pass
// joins, boxes and counts touching pairs; no numbering pass is needed.
class RunComponents {
 public:
  // reach 1 also joins runs touching diagonally (8-connected), 0 only shared columns.
  // flag(i, y) marks a run; a component's flag is the OR over its runs. Returns the
  // number of touching run pairs (the Euler number is #runs - touching).
  template <class Flag>
  int64_t join(const RunRows& runs, int reach, Flag&& flag) {
    const size_t n = static_cast<size_t>(runs.end_index());
    const int32_t* row_start = runs.row_start;
    if (parent_.size() < n) {
      parent_.resize(n);
      box_.resize(n);
      flag_.resize(n);
    }
    int64_t touching = 0;
    for (int64_t y = runs.first; y < runs.end; ++y) {
      int32_t j = y > runs.first ? row_start[y - 1] : 0;
      const int32_t j_end = y > runs.first ? row_start[y] : 0;
      for (int32_t i = row_start[y]; i < row_start[y + 1]; ++i) {
        const Run a = runs[i];
        while (j < j_end && runs[j].end + reach <= a.begin) ++j;
        int32_t root = i;
        for (int32_t k = j; k < j_end && runs[k].begin < a.end + reach; ++k) {
          const int32_t r = find(k);  // < i
          ++touching;
          if (root == i) {
            root = r;
          } else if (r != root) {  // a joins two components: the later root joins the earlier
            const int32_t lo = std::min(r, root), hi = std::max(r, root);
            parent_[hi] = lo;
            extend(box_[lo], box_[hi]);
            flag_[lo] |= flag_[hi];
            root = lo;
          }
        }
        // Previous-row runs ending within a cannot touch the next run of this row.
        while (j < j_end && runs[j].end <= a.end) ++j;
        parent_[i] = root;
        const Box own{a.begin, y, a.end - 1, y};
        const uint8_t marked = flag(i, y);
        if (root == i) {
          box_[i] = own;
          flag_[i] = marked;
        } else {
          extend(box_[root], own);
          flag_[root] |= marked;
        }
      }
    }
    return touching;
  }

  // Calls fn(box, flag) for each component of the last join (of runs), in raster order
  // of its first pixel.
  template <class Fn>
  void for_each(const RunRows& runs, Fn&& fn) const {
    for (int32_t i = runs.begin_index(); i < runs.end_index(); ++i) {
      if (parent_[i] == i) fn(box_[i], flag_[i]);
    }
  }

 private:
  std::vector<int32_t> parent_;
  std::vector<Box> box_;  // tight box of the component rooted here
  std::vector<uint8_t> flag_;

  int32_t find(int32_t i) {
    while (parent_[i] != i) {
      parent_[i] = parent_[parent_[i]];  // path halving
      i = parent_[i];
    }
    return i;
  }
  static void extend(Box& b, const Box& o) {
    b.x0 = std::min(b.x0, o.x0);
    b.y0 = std::min(b.y0, o.y0);
    b.x1 = std::max(b.x1, o.x1);
    b.y1 = std::max(b.y1, o.y1);
  }
};

// Every contour's box (V2) at one cut level, from that level's runs. Outer contours are
// the 8-connected components of the runs; holes exist only when the Euler number
// (#runs - #touching run pairs) is below the component count, and only then are the
// background gaps between runs joined, 4-connected, to box the holes.
class ContourBoxes {
 public:
  // Appends nothing and returns false when the mask is empty. Holes are looked for only
  // in stretches where hole_matters(outer contour boxes) (bound) says they could change
  // the result; bound: a box containing every hole of the stretch.
  template <class HoleMatters>
  bool find(const RunRows& runs, int64_t height, int64_t width, std::vector<Box>& boxes,
            HoleMatters&& hole_matters) {
    const int64_t touching = components_.join(runs, 1, [](int32_t, int64_t) { return uint8_t{0}; });
    boxes.clear();
    components_.for_each(runs, [&](const Box& b, uint8_t) {
      boxes.push_back(protocol_box(b.x0, b.y0, b.x1, b.y1, 0, width, height));
    });
    if (boxes.empty()) return false;
    const int64_t euler = runs.size() - touching;
    if (static_cast<int64_t>(boxes.size()) == euler) return true;  // no holes
    find_stretches(runs, height, width);
    auto matters = hole_matters(boxes);
    for (const Stretch& stretch : stretches_) {
      if (matters(stretch.bound)) add_holes(runs, stretch, height, width, boxes);
    }
    return true;
  }
  bool find(const RunRows& runs, int64_t height, int64_t width, std::vector<Box>& boxes) {
    return find(runs, height, width, boxes, [](const std::vector<Box>&) { return [](const Box&) { return true; }; });
  }

 private:
  // Consecutive rows [first, end) holding gaps between runs, and the protocol box of
  // those gaps (between the end of each row's first run and the start of its last).
  struct Stretch {
    int64_t first, end;
    Box bound;
  };
  std::vector<Stretch> stretches_;
  std::vector<Run> gaps_;
  std::vector<int32_t> gap_start_;
  std::vector<Run> span_;  // rows first - 1 .. end of a stretch: first run's start to last run's end
  RunComponents components_, gap_components_;

  // Every hole lies within one stretch: its gaps are 4-connected across consecutive rows.
  void find_stretches(const RunRows& runs, int64_t height, int64_t width) {
    const int32_t* row_start = runs.row_start;
    stretches_.clear();
    Box b{0, 0, -1, -1};
    for (int64_t y = runs.first; y <= runs.end; ++y) {
      const bool gaps = y < runs.end && row_start[y + 1] - row_start[y] >= 2;
      if (gaps && b.y1 == y - 1 && b.y1 >= 0) {  // the stretch goes on
        b = {std::min<int64_t>(b.x0, runs[row_start[y]].end), b.y0,
             std::max<int64_t>(b.x1, runs[row_start[y + 1] - 1].begin - 1), y};
      } else {
        if (b.y1 >= 0) stretches_.push_back({b.y0, b.y1 + 1, protocol_box(b.x0, b.y0, b.x1, b.y1, 1, width, height)});
        b = gaps ? Box{runs[row_start[y]].end, y, runs[row_start[y + 1] - 1].begin - 1, y} : Box{0, 0, -1, -1};
      }
    }
  }

  // Only gaps between two runs of a row can belong to a hole; the first and last gaps
  // of a row reach the image border. A set of joined gaps is a hole unless one of them
  // lies in the first or last row or overlaps the border-reaching part of a row above
  // or below it (everything before that row's first run or after its last one).
  void add_holes(const RunRows& runs, const Stretch& stretch, int64_t height, int64_t width,
                 std::vector<Box>& boxes) {
    const int32_t* row_start = runs.row_start;
    gaps_.clear();
    gap_start_.resize(static_cast<size_t>(height + 1));  // indexed by row, valid at [first, end]
    for (int64_t y = stretch.first; y < stretch.end; ++y) {
      gap_start_[y] = static_cast<int32_t>(gaps_.size());
      for (int32_t i = row_start[y] + 1; i < row_start[y + 1]; ++i) gaps_.push_back({runs[i - 1].end, runs[i].begin});
    }
    gap_start_[stretch.end] = static_cast<int32_t>(gaps_.size());
    // The pixels of rows first - 1 .. end that reach the border: before the row's
    // first run or after its last one (all of an empty row).
    span_.resize(static_cast<size_t>(stretch.end - stretch.first + 2));
    for (int64_t y = stretch.first - 1; y <= stretch.end; ++y) {
      const bool empty = y < runs.first || y >= runs.end || row_start[y] == row_start[y + 1];
      span_[y - stretch.first + 1] = empty ? Run{std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()}
                                             : Run{runs[row_start[y]].begin, runs[row_start[y + 1] - 1].end};
    }
    // Does gap [a, b) of row y overlap the border-reaching part of the row above or below?
    const Run* span = span_.data() + 1 - stretch.first;  // indexed by row
    const RunRows gaps{gaps_.data(), gap_start_.data(), stretch.first, stretch.end};
    gap_components_.join(gaps, 0, [&](int32_t i, int64_t y) {
      const Run& g = gaps_[i];
      return static_cast<uint8_t>((g.begin < span[y - 1].begin) | (g.end > span[y - 1].end) |
                                  (g.begin < span[y + 1].begin) | (g.end > span[y + 1].end));
    });
    gap_components_.for_each(gaps, [&](const Box& b, uint8_t border) {
      // A hole's contour runs through the foreground pixels around it.
      if (!border) boxes.push_back(protocol_box(b.x0, b.y0, b.x1, b.y1, 1, width, height));
    });
  }
};

// The V1 box at one cut level: the outer contour with the largest cv2.contourArea.
// Each region row is tiled by segments alternating between background and foreground;
// foreground segments are joined 8-connected, background 4-connected, giving the
// component tree that the area of an outer contour (holes filled) needs.
class LargestContour {
 public:
  // Returns false when the mask is empty. `mask_box` gets the mask's tight box.
  bool find(const uint8_t* s, int64_t height, int64_t width, uint8_t cut, Region region, Box* largest,
            Region* mask_box) {
    region_ = region;
    build_segments(s, height, width, cut);
    join_segments();
    summarize_components();
    count_windows();
    int64_t best = -1, best_area2 = -1;
    Region tight{region.x1, region.y1, region.x0, region.y0};
    for (int64_t k = 0; k < n_; ++k) {
      if (root_[k] != k || !segs_[k].fg) continue;
      tight = {std::min(tight.x0, x0_[k]), std::min(tight.y0, y0_[k]), std::max(tight.x1, x1_[k] + 1),
               std::max(tight.y1, y1_[k] + 1)};
      const int64_t area2 = partial2_[k] + 2 * (subtree_[k] - up_[k]);
      if (area2 >= best_area2) {  // cv2 lists contours last-found first; max() keeps the first
        best_area2 = area2;
        best = k;
      }
    }
    if (mask_box) *mask_box = tight;
    if (best < 0) return false;
    *largest = protocol_box(x0_[best], y0_[best], x1_[best], y1_[best], 0, width, height);
    return true;
  }

 private:
  Region region_{};
  int64_t n_ = 0;
  std::vector<uint64_t> words_;
  std::vector<Segment> segs_;
  std::vector<int64_t> row_start_;
  DisjointSets<int64_t> sets_;
  // Per segment; meaningful at component roots (a component's first segment).
  std::vector<int64_t> root_, x0_, x1_, y0_, y1_, parent_, partial2_, up_, subtree_;
  std::vector<uint8_t> border_;

  void build_segments(const uint8_t* s, int64_t height, int64_t width, uint8_t cut) {
    const Region& r = region_;
    const int64_t rw = r.x1 - r.x0, rh = r.y1 - r.y0;
    segs_.clear();
    row_start_.resize(static_cast<size_t>(rh + 1));
    words_.resize(static_cast<size_t>(words_for(rw)));
    for (int64_t yy = 0; yy < rh; ++yy) {
      row_start_[yy] = static_cast<int64_t>(segs_.size());
      bits_at_least(s + (r.y0 + yy) * width + r.x0, rw, cut, words_.data(), (height - r.y0 - yy) * width - r.x0);
      append_segments(words_.data(), rw, static_cast<int32_t>(r.x0), segs_);
    }
    row_start_[rh] = static_cast<int64_t>(segs_.size());
    n_ = static_cast<int64_t>(segs_.size());
  }

  // Calls fn(top, bottom, p, q, top_ends, bottom_ends) for each stretch [p, q) of
  // columns over which the segment of row yy - 1 and the segment of row yy are fixed.
  template <class Fn>
  void for_each_stretch(int64_t yy, Fn&& fn) const {
    int64_t i = row_start_[yy - 1], j = row_start_[yy];
    const int64_t i_end = row_start_[yy], j_end = row_start_[yy + 1];
    while (i < i_end && j < j_end) {
      const int32_t p = std::max(segs_[i].begin, segs_[j].begin);
      const int32_t q = std::min(segs_[i].end, segs_[j].end);
      const bool top_ends = segs_[i].end == q, bottom_ends = segs_[j].end == q;
      fn(i, j, p, q, top_ends, bottom_ends);
      i += top_ends;
      j += bottom_ends;
    }
  }

  void join_segments() {
    sets_.reset(static_cast<size_t>(n_));
    const int64_t rh = region_.y1 - region_.y0;
    for (int64_t yy = 1; yy < rh; ++yy) {
      for_each_stretch(yy, [&](int64_t i, int64_t j, int32_t, int32_t q, bool top_ends, bool bottom_ends) {
        if (segs_[i].fg == segs_[j].fg) sets_.unite(i, j);
        // Both segments end at q with different kinds: the foreground one touches the
        // foreground segment diagonally across q (8-connected; background is 4-connected).
        if (top_ends && bottom_ends && q < region_.x1 && segs_[i].fg != segs_[j].fg) {
          if (segs_[i].fg) sets_.unite(i, j + 1);
          else sets_.unite(j, i + 1);
        }
      });
    }
  }

  void summarize_components() {
    const size_t n = static_cast<size_t>(n_);
    for (auto* v : {&root_, &x0_, &x1_, &y0_, &y1_, &parent_}) v->resize(n);
    border_.assign(n, 0);
    const Region& r = region_;
    const int64_t rh = r.y1 - r.y0;
    for (int64_t yy = 0; yy < rh; ++yy) {
      const int64_t y = r.y0 + yy;
      for (int64_t k = row_start_[yy]; k < row_start_[yy + 1]; ++k) {
        const int64_t p = sets_.parent[k];
        const int64_t c = (p == k) ? k : root_[p];  // parent[k] <= k: already resolved
        root_[k] = c;
        if (c == k) {
          x0_[c] = segs_[k].begin;
          x1_[c] = segs_[k].end - 1;
          y0_[c] = y;
        } else {
          x0_[c] = std::min<int64_t>(x0_[c], segs_[k].begin);
          x1_[c] = std::max<int64_t>(x1_[c], segs_[k].end - 1);
        }
        y1_[c] = y;
        if (!segs_[k].fg && (segs_[k].begin == r.x0 || segs_[k].end == r.x1 || yy == 0 || yy == rh - 1)) border_[c] = 1;
      }
    }
  }

  // The component tree: a foreground component's parent is the background component
  // around it (left of its first pixel); a hole's parent is the foreground component
  // enclosing it (above its first pixel). Parents always come earlier in raster order.
  void link_parents() {
    for (int64_t k = 0; k < n_; ++k) {
      if (root_[k] != k) continue;
      parent_[k] = -1;
      if (segs_[k].fg) {
        if (segs_[k].begin > region_.x0) parent_[k] = root_[k - 1];
      } else if (!border_[k]) {
        const int64_t yy = y0_[k] - region_.y0;
        const Segment* first = segs_.data() + row_start_[yy - 1];
        const Segment* last = segs_.data() + row_start_[yy];
        const Segment* above = std::upper_bound(first, last, segs_[k].begin,
                                                [](int32_t x, const Segment& seg) { return x < seg.begin; }) -
                           1;
        parent_[k] = root_[above - segs_.data()];
      }
    }
  }

  bool is_hole_of(int64_t bg_root, int64_t fg_root) const {
    return !border_[bg_root] && parent_[bg_root] == fg_root;
  }

  // Window counts behind each outer contour's area (see the header): partial2_[F] is
  // twice the area from windows touching F; up_[c] counts windows that lie wholly
  // inside every foreground component enclosing c.
  void count_windows() {
    link_parents();
    const size_t n = static_cast<size_t>(n_);
    partial2_.assign(n, 0);
    up_.assign(n, 0);
    const int64_t rh = region_.y1 - region_.y0;
    for (int64_t yy = 1; yy < rh; ++yy) {
      for_each_stretch(yy, [&](int64_t i, int64_t j, int32_t p, int32_t q, bool top_ends, bool bottom_ends) {
        const int64_t inner = q - p - 1;  // windows with both columns inside the stretch
        if (inner > 0) add_windows(i, i, j, j, inner);
        if (q < region_.x1) add_windows(i, top_ends ? i + 1 : i, j, bottom_ends ? j + 1 : j, 1);
      });
    }
    subtree_ = up_;
    for (int64_t k = n_ - 1; k >= 0; --k) {
      if (root_[k] == k && parent_[k] >= 0) subtree_[parent_[k]] += subtree_[k];
    }
  }

  // `times` windows whose pixels lie in segments a, b (top) and c, d (bottom).
  void add_windows(int64_t a, int64_t b, int64_t c, int64_t d, int64_t times) {
    const int64_t seg[4] = {a, b, c, d};
    int64_t f = -1;
    for (int64_t s : seg) {
      if (segs_[s].fg) f = root_[s];
    }
    if (f < 0) {  // all background, hence one 4-connected component
      up_[root_[a]] += times;
      return;
    }
    int inside = 0;
    for (int64_t s : seg) inside += segs_[s].fg || is_hole_of(root_[s], f);
    partial2_[f] += times * (inside == 4 ? 2 : inside == 3 ? 1 : 0);
    up_[f] += times;
  }
};


// A map's range in float64; false if a value is NaN or infinite.
template <class T>
bool finite_range(const T* map, int64_t pixels, double* lo, double* hi) {
  T a = 0, b = 0;
  if (pixels > 0 && !value_range(map, pixels, &a, &b)) return false;
  *lo = static_cast<double>(a);
  *hi = static_cast<double>(b);
  return true;
}

// uint8(trunc((m - lo) / range * 255)) for every value, operation for operation as the
// protocol computes it. Multiplying by scale = 255 / range instead differs from it by far
// less than 1e-6, so truncations can only disagree next to an integer, where the
// protocol's own operations decide.
template <class T>
void quantize_map(const T* m, int64_t pixels, double lo, double range, uint8_t* out) {
  const double scale = 255.0 / range, near = 1e-6;
  auto exact = [&](int64_t i) { return static_cast<int32_t>((static_cast<double>(m[i]) - lo) / range * 255.0); };
  int64_t i = 0;
#ifdef WEAKSUP_HAVE_SSE2
  const __m128d lo2 = _mm_set1_pd(lo), scale2 = _mm_set1_pd(scale);
  const __m128d below = _mm_set1_pd(near), above = _mm_set1_pd(1 - near);
  // Two values: their truncated products (low two int32 lanes), and which are doubtful.
  auto two = [&](int64_t at, __m128i* q) {
    __m128d x;
    if constexpr (sizeof(T) == 4) {
      x = _mm_cvtps_pd(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(m + at))));
    } else {
      x = _mm_loadu_pd(reinterpret_cast<const double*>(m + at));
    }
    const __m128d approx = _mm_mul_pd(_mm_sub_pd(x, lo2), scale2);
    *q = _mm_cvttpd_epi32(approx);
    const __m128d frac = _mm_sub_pd(approx, _mm_cvtepi32_pd(*q));
    return _mm_movemask_pd(_mm_or_pd(_mm_cmplt_pd(frac, below), _mm_cmpgt_pd(frac, above)));
  };
  if constexpr (sizeof(T) == 4) {
    // float32 maps: the product in float32 (4 lanes) is within 5e-5 of the protocol's
    // value (a few roundings of relative size 2^-24 on a 0..255 scale), so a 1e-3
    // margin still sends every doubtful value to the exact computation.
    const __m128 lo4 = _mm_set1_ps(static_cast<float>(lo)), scale4 = _mm_set1_ps(static_cast<float>(scale));
    const __m128 below4 = _mm_set1_ps(1e-3f), above4 = _mm_set1_ps(1 - 1e-3f);
    for (; i + 4 <= pixels; i += 4) {
      const __m128 approx = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(reinterpret_cast<const float*>(m + i)), lo4), scale4);
      const __m128i q = _mm_cvttps_epi32(approx);
      const __m128 frac = _mm_sub_ps(approx, _mm_cvtepi32_ps(q));
      const int doubtful = _mm_movemask_ps(_mm_or_ps(_mm_cmplt_ps(frac, below4), _mm_cmpgt_ps(frac, above4)));
      const int32_t packed = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(q, q), _mm_setzero_si128()));
      std::memcpy(out + i, &packed, 4);
      for (int j = 0; doubtful >> j; ++j) {
        if (doubtful >> j & 1) out[i + j] = static_cast<uint8_t>(exact(i + j));
      }
    }
  }
  for (; i + 4 <= pixels; i += 4) {
    __m128i q01, q23;
    const int doubtful = two(i, &q01) | two(i + 2, &q23) << 2;
    const __m128i q = _mm_unpacklo_epi64(q01, q23);  // four int32 in [0, 255]
    const int32_t packed = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(q, q), _mm_setzero_si128()));
    std::memcpy(out + i, &packed, 4);
    for (int j = 0; doubtful >> j; ++j) {
      if (doubtful >> j & 1) out[i + j] = static_cast<uint8_t>(exact(i + j));
    }
  }
#endif
  for (; i < pixels; ++i) {
    const double approx = (static_cast<double>(m[i]) - lo) * scale;
    const int32_t q = static_cast<int32_t>(approx);
    const double frac = approx - q;
    out[i] = static_cast<uint8_t>(frac < near || frac > 1 - near ? exact(i) : q);
  }
}

std::invalid_argument not_finite_error(int64_t b) {
  return std::invalid_argument("scoremaps: map " + std::to_string(b) +
                               " contains NaN or infinity; replace those values before evaluating");
}

// Min-max normalization divides by max - min: past DBL_MAX it would turn the map into NaN.
void check_span(double lo, double hi, int64_t b) {
  if (!std::isfinite(hi - lo)) {
    throw std::invalid_argument("scoremaps: map " + std::to_string(b) +
                                " spans more than float64 holds (max - min overflows); scale it down first");
  }
}

}  // namespace

template <class T>
void normalize_scoremaps(const T* maps, int64_t batch, int64_t pixels, double* out, int threads) {
  parallel_for(batch, threads, [&](int, int64_t b) {
    const T* m = maps + b * pixels;
    double* o = out + b * pixels;
    double lo, hi;
    if (!finite_range(m, pixels, &lo, &hi)) throw not_finite_error(b);
    check_span(lo, hi, b);
    if (!(hi > lo)) {  // the protocol turns a constant map into zeros
      std::fill(o, o + pixels, 0.0);
      return;
    }
    const double range = hi - lo;  // == max(m - min): subtraction is monotone
    for (int64_t i = 0; i < pixels; ++i) o[i] = (static_cast<double>(m[i]) - lo) / range;
  });
}

// One map of quantize_scoremaps (b: its index, for error messages).
template <class T>
void quantize_one(const T* m, int64_t pixels, bool normalize, uint8_t* o, int64_t b) {
  double lo, hi;
  if (!finite_range(m, pixels, &lo, &hi)) throw not_finite_error(b);
  if (!normalize) {
    if (lo < 0 || hi > 1) {
      throw std::invalid_argument("scoremaps: map " + std::to_string(b) +
                                  " has values outside [0, 1]; pass normalize=True to min-max normalize it");
    }
    for (int64_t i = 0; i < pixels; ++i) o[i] = static_cast<uint8_t>(static_cast<double>(m[i]) * 255.0);
    return;
  }
  check_span(lo, hi, b);
  if (!(hi > lo)) {
    std::fill(o, o + pixels, uint8_t{0});
    return;
  }
  quantize_map(m, pixels, lo, hi - lo, o);
}

template <class T>
void quantize_scoremaps(const T* maps, int64_t batch, int64_t pixels, bool normalize, uint8_t* out, int threads) {
  parallel_for(batch, threads, [&](int, int64_t b) { quantize_one(maps + b * pixels, pixels, normalize, out + b * pixels, b); });
}

void contour_boxes(const uint8_t* quantized, int64_t height, int64_t width, int64_t level, Box* largest,
                   std::vector<Box>* all) {
  const Box none{0, 0, 0, 0};
  const bool possible = level >= -1 && level < 255 && height > 0 && width > 0;
  const uint8_t cut = static_cast<uint8_t>(level + 1);
  if (largest && !(possible && LargestContour().find(quantized, height, width, cut, {0, 0, width, height}, largest,
                                                     nullptr))) {
    *largest = none;
  }
  if (all) {
    LevelRuns runs;
    if (possible) runs.build(quantized, height, width, {level});
    if (!(possible && ContourBoxes().find(runs.level(0), height, width, *all))) all->assign(1, none);
  }
}

namespace {

// The protocol's cut levels int(t * max(s)) of one map, and their distinct values.
struct Levels {
  std::vector<int64_t> of_threshold;
  std::vector<int64_t> distinct;  // ascending: masks shrink as the level rises

  Levels(const double* thresholds, int64_t n, int64_t max_s) : of_threshold(static_cast<size_t>(n)) {
    for (int64_t t = 0; t < n; ++t) {
      // Below -1 every pixel is foreground already (the mask is s > level).
      of_threshold[t] = std::max<int64_t>(-1, static_cast<int64_t>(thresholds[t] * static_cast<double>(max_s)));
    }
    distinct = of_threshold;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  }
  size_t index(int64_t t) const {
    return std::lower_bound(distinct.begin(), distinct.end(), of_threshold[t]) - distinct.begin();
  }
};

struct Workspace {
  std::vector<uint8_t> quantized;  // the map, when box_correct_maps quantizes it
  LevelRuns runs;
  ContourBoxes contours;
  std::vector<Box> candidates;
  LargestContour largest;
  std::vector<int64_t> nonempty;  // distinct levels below the map's maximum
  std::vector<uint8_t> hits;      // per distinct level and IoU threshold
  std::vector<Box> v1;            // per distinct level
};

// box_correct over maps that map_of(workspace, b) turns into quantized maps.
template <class MapOf>
void correct_maps(int64_t batch, int64_t height, int64_t width, const double* thresholds, int64_t n_thresholds,
                  const int64_t* gt_boxes, const int64_t* gt_offsets, const double* iou_thresholds, int64_t n_iou,
                  bool multi_contour, uint8_t* correct, int64_t* boxes_v1, int threads, MapOf&& map_of) {
  const int64_t pixels = height * width;
  std::vector<Workspace> workspaces(static_cast<size_t>(resolve_threads(threads, batch)));
  parallel_for(batch, threads, [&](int worker, int64_t b) {
    Workspace& ws = workspaces[worker];
    const uint8_t* s = map_of(ws, b);
    const int64_t* gt = gt_boxes + 4 * gt_offsets[b];
    const int64_t n_gt = gt_offsets[b + 1] - gt_offsets[b];
    auto best_iou = [&](const Box* boxes, size_t n_boxes) {
      double best = 0.0;
      for (size_t i = 0; i < n_boxes; ++i) {
        for (int64_t g = 0; g < n_gt; ++g) best = std::max(best, box_iou(boxes[i], gt + 4 * g));
      }
      return best;
    };
    // hit[d]: some box reaches IoU threshold d with some ground-truth box.
    auto reaches = [&](const Box* boxes, size_t n_boxes, uint8_t* hit) {
      const double best = best_iou(boxes, n_boxes);
      for (int64_t d = 0; d < n_iou; ++d) hit[d] = best >= iou_thresholds[d] / 100.0;
    };
    // Whether a box inside `bound` could reach IoU `iou` with some ground-truth box G:
    // IoU <= |bound n G| / |G|, computed like box_iou so rounding keeps the bound exact.
    const double lowest = *std::min_element(iou_thresholds, iou_thresholds + n_iou) / 100.0;
    auto could_reach = [&](const Box& bound, double iou) {
      if (!(iou > 0)) return true;  // every box reaches IoU 0
      for (int64_t g = 0; g < n_gt; ++g) {
        const int64_t* q = gt + 4 * g;
        const Box inside{std::max(bound.x0, q[0]), std::max(bound.y0, q[1]), std::min(bound.x1, q[2]),
                         std::min(bound.y1, q[3])};
        if (inside.x1 < inside.x0 || inside.y1 < inside.y0) continue;
        const double covered = static_cast<double>((inside.x1 - inside.x0 + 1) * (inside.y1 - inside.y0 + 1)) /
                               static_cast<double>((q[2] - q[0] + 1) * (q[3] - q[1] + 1));
        if (covered >= iou) return true;
      }
      return false;
    };
    const int64_t max_s = pixels ? *std::max_element(s, s + pixels) : 0;
    const Levels levels(thresholds, n_thresholds, max_s);
    const size_t n_levels = levels.distinct.size();
    // A level at or above the maximum has an empty mask, hence no contour: the protocol
    // then scores the box [0, 0, 0, 0].
    ws.nonempty.clear();
    for (int64_t lev : levels.distinct) {
      if (pixels > 0 && lev < max_s) ws.nonempty.push_back(lev);
    }
    const size_t found = ws.nonempty.size();  // levels ascend: the non-empty ones come first
    ws.hits.assign(n_levels * n_iou, 0);
    ws.v1.assign(n_levels, Box{0, 0, 0, 0});
    const bool want_v1 = !multi_contour || boxes_v1;
    if (want_v1) {
      Region region{0, 0, width, height};  // each level's mask lies in the previous one's box
      for (size_t l = 0; l < found; ++l) {
        ws.largest.find(s, height, width, static_cast<uint8_t>(ws.nonempty[l] + 1), region, &ws.v1[l], &region);
      }
    }
    if (multi_contour) {
      ws.runs.build(s, height, width, ws.nonempty);
      for (size_t l = 0; l < found; ++l) {
        // Holes matter only for IoU thresholds every outer contour misses, and only where
        // a box inside the bound of a stretch's holes could reach the lowest of those.
        ws.contours.find(ws.runs.level(l), height, width, ws.candidates, [&](const std::vector<Box>& outer) {
          const double best = best_iou(outer.data(), outer.size());
          double missed = 2.0;
          for (int64_t d = 0; d < n_iou; ++d) {
            const double iou = iou_thresholds[d] / 100.0;
            if (!(best >= iou)) missed = std::min(missed, iou);
          }
          return [&could_reach, missed](const Box& bound) { return missed <= 1.0 && could_reach(bound, missed); };
        });
        reaches(ws.candidates.data(), ws.candidates.size(), &ws.hits[l * n_iou]);
        // Masks nest: every box of a higher level (holes included) lies inside the box
        // B of a component of this level, and IoU(box, G) <= |B n G| / |G|. Once no B
        // can reach the lowest IoU threshold, no higher level can (their hits stay 0).
        bool reachable = false;
        for (const Box& b : ws.candidates) reachable = reachable || could_reach(b, lowest);
        if (!reachable) break;
      }
    } else {
      for (size_t l = 0; l < found; ++l) reaches(&ws.v1[l], 1, &ws.hits[l * n_iou]);
    }
    const Box none{0, 0, 0, 0};
    for (size_t l = found; l < n_levels; ++l) reaches(&none, 1, &ws.hits[l * n_iou]);
    for (int64_t t = 0; t < n_thresholds; ++t) {
      const size_t l = levels.index(t);
      for (int64_t d = 0; d < n_iou; ++d) correct[(b * n_iou + d) * n_thresholds + t] = ws.hits[l * n_iou + d];
      if (boxes_v1) {
        int64_t* o = boxes_v1 + (b * n_thresholds + t) * 4;
        o[0] = ws.v1[l].x0;
        o[1] = ws.v1[l].y0;
        o[2] = ws.v1[l].x1;
        o[3] = ws.v1[l].y1;
      }
    }
  });
}

}  // namespace

void box_correct(const uint8_t* quantized, int64_t batch, int64_t height, int64_t width, const double* thresholds,
                 int64_t n_thresholds, const int64_t* gt_boxes, const int64_t* gt_offsets,
                 const double* iou_thresholds, int64_t n_iou, bool multi_contour, uint8_t* correct,
                 int64_t* boxes_v1, int threads) {
  correct_maps(batch, height, width, thresholds, n_thresholds, gt_boxes, gt_offsets, iou_thresholds, n_iou,
               multi_contour, correct, boxes_v1, threads,
               [&](Workspace&, int64_t b) { return quantized + b * height * width; });
}

template <class T>
void box_correct_maps(const T* maps, bool normalize, int64_t batch, int64_t height, int64_t width,
                      const double* thresholds, int64_t n_thresholds, const int64_t* gt_boxes,
                      const int64_t* gt_offsets, const double* iou_thresholds, int64_t n_iou, bool multi_contour,
                      uint8_t* correct, int64_t* boxes_v1, int threads) {
  // Each map is quantized right before use, into a buffer that stays in cache.
  const int64_t pixels = height * width;
  correct_maps(batch, height, width, thresholds, n_thresholds, gt_boxes, gt_offsets, iou_thresholds, n_iou,
               multi_contour, correct, boxes_v1, threads, [&](Workspace& ws, int64_t b) {
                 ws.quantized.resize(static_cast<size_t>(pixels));
                 quantize_one(maps + b * pixels, pixels, normalize, ws.quantized.data(), b);
                 return ws.quantized.data();
               });
}

void pxap_histograms(const double* scores, const uint8_t* masks, int64_t batch, int64_t pixels,
                     const double* edges, int64_t n_edges, int64_t* true_hist, int64_t* false_hist, int threads) {
  const int64_t bins = n_edges - 1;
  const int workers = resolve_threads(threads, batch);
  std::vector<std::vector<int64_t>> local(static_cast<size_t>(workers), std::vector<int64_t>(2 * bins, 0));
  parallel_for(batch, workers, [&](int worker, int64_t b) {
    int64_t* hist = local[worker].data();
    const double* sc = scores + b * pixels;
    const uint8_t* mk = masks + b * pixels;
    for (int64_t i = 0; i < pixels; ++i) {
      if (mk[i] > 1) continue;
      const double v = sc[i];
      if (!(v >= edges[0] && v <= edges[bins])) continue;
      int64_t bin = std::upper_bound(edges, edges + n_edges, v) - edges - 1;
      if (bin == bins) bin = bins - 1;  // the last edge belongs to the last bin
      hist[(mk[i] ? 0 : bins) + bin] += 1;
    }
  });
  std::fill(true_hist, true_hist + bins, 0);
  std::fill(false_hist, false_hist + bins, 0);
  for (const auto& h : local) {
    for (int64_t i = 0; i < bins; ++i) {
      true_hist[i] += h[i];
      false_hist[i] += h[bins + i];
    }
  }
}

template void quantize_scoremaps<float>(const float*, int64_t, int64_t, bool, uint8_t*, int);
template void quantize_scoremaps<double>(const double*, int64_t, int64_t, bool, uint8_t*, int);
template void normalize_scoremaps<float>(const float*, int64_t, int64_t, double*, int);
template void normalize_scoremaps<double>(const double*, int64_t, int64_t, double*, int);
template void box_correct_maps<float>(const float*, bool, int64_t, int64_t, int64_t, const double*, int64_t,
                                      const int64_t*, const int64_t*, const double*, int64_t, bool, uint8_t*,
                                      int64_t*, int);
template void box_correct_maps<double>(const double*, bool, int64_t, int64_t, int64_t, const double*, int64_t,
                                       const int64_t*, const int64_t*, const double*, int64_t, bool, uint8_t*,
                                       int64_t*, int);

}  // namespace weaksup
