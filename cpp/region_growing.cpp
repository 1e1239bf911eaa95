#include "region_growing.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "parallel.hpp"
#include "value_range.hpp"

namespace weaksup {

namespace {

// One image: labels, then a flood fill from every pixel that is a seed of its own
// label, through 8-neighbours of the same label. A present class's region holds a seed
// exactly when the fill reaches it, so the fill's reach is the union of those regions.
// Folds one summary into another; `any` says whether `into` holds one yet.
void merge(InputSummary& into, const InputSummary& one, bool& any) {
  into.finite = into.finite && one.finite;
  into.low = any ? std::min(into.low, one.low) : one.low;
  into.high = any ? std::max(into.high, one.high) : one.high;
  into.gap = any ? std::max(into.gap, one.gap) : one.gap;
  any = true;
}

// One image's summary: the range of its probabilities and that of its per-pixel sums
// over the classes, in one pass over data the growth reads next (from cache). A NaN or an
// infinity makes its pixel's sum NaN or infinite, so the sums alone tell finiteness.
template <class T>
InputSummary summarize(const T* probs, int64_t classes, int64_t plane, std::vector<T>& sum) {
  sum.assign(static_cast<size_t>(plane), T(0));
  T* __restrict s = sum.data();
  T lo = probs[0], hi = probs[0];
  int64_t vectorized = 0;
#ifdef WEAKSUP_RANGE_SSE2
  using Ops = sse2::Lanes<T>;
  using V = typename Ops::V;
  constexpr int L = Ops::lanes, U = 4;
  vectorized = plane / (U * L) * (U * L);
  if (vectorized > 0) {
    // A block of U vectors of pixels at a time, summed over the classes in registers (one
    // load per value), with U independent min / max chains.
    V mn[U], mx[U];
    for (int u = 0; u < U; ++u) mn[u] = mx[u] = Ops::load(probs);
    for (int64_t i = 0; i < vectorized; i += U * L) {
      V total[U];
      for (int u = 0; u < U; ++u) total[u] = Ops::zero();
      for (int64_t c = 0; c < classes; ++c) {
        const T* p = probs + c * plane + i;
        for (int u = 0; u < U; ++u) {
          const V x = Ops::load(p + u * L);
          total[u] = Ops::add(total[u], x);
          mn[u] = Ops::min(mn[u], x);
          mx[u] = Ops::max(mx[u], x);
        }
      }
      for (int u = 0; u < U; ++u) Ops::store(s + i + u * L, total[u]);
    }
    for (int u = 1; u < U; ++u) {
      mn[0] = Ops::min(mn[0], mn[u]);
      mx[0] = Ops::max(mx[0], mx[u]);
    }
    T a[L], b[L];
    Ops::store(a, mn[0]);
    Ops::store(b, mx[0]);
    for (int k = 0; k < L; ++k) {
      lo = a[k] < lo ? a[k] : lo;
      hi = b[k] > hi ? b[k] : hi;
    }
  }
#endif
  for (int64_t c = 0; c < classes; ++c) {
    const T* p = probs + c * plane;
    for (int64_t i = vectorized; i < plane; ++i) {
      s[i] += p[i];
      lo = p[i] < lo ? p[i] : lo;
      hi = p[i] > hi ? p[i] : hi;
    }
  }
  T sum_lo, sum_hi;
  InputSummary one;
  one.finite = value_range(s, plane, &sum_lo, &sum_hi);
  one.low = lo;
  one.high = hi;
  one.gap = std::max(1.0 - static_cast<double>(sum_lo), static_cast<double>(sum_hi) - 1.0);
  return one;
}

// The highest seeded class + 1 per pixel into lab (a later class overwrites), and the seeds
// per pixel into cnt (0, 1 or 2 for "more"); returns the OR of every seed byte. The pointers
// are restrict-qualified (uint8 stores may alias anything otherwise), so that the
// branch-free loop vectorizes.
// A seed of an absent class writes 0: such labels never grow, so they are dropped here
// (the fill cannot enter them).
template <class Label>
uint8_t seed_pass(const uint8_t* seeds, const uint8_t* present, int64_t classes, int64_t plane,
                  Label* __restrict lab, uint8_t* __restrict cnt) {
  uint8_t bits = 0;
  for (int64_t c = 0; c < classes; ++c) {
    const uint8_t* __restrict s = seeds + c * plane;
    const Label cls = static_cast<Label>(present && !present[c] ? 0 : c + 1);
    for (int64_t i = 0; i < plane; ++i) {
      lab[i] = s[i] ? cls : lab[i];
      cnt[i] = std::min<uint8_t>(static_cast<uint8_t>(cnt[i] + (s[i] != 0)), 2);
      bits |= s[i];
    }
  }
  return bits;
}

// Per-thread scratch, reused from image to image, and the thread's summary.
template <class T>
struct Scratch {
  std::vector<int32_t> label, best, fill;
  std::vector<T> top, sum;
  std::vector<uint8_t> count, seed_label;
  std::vector<int64_t> stack;
  InputSummary seen;
  bool any = false;
  uint8_t seed_bits = 0;  // the OR of every seed byte read
};

template <class T>
void grow_image(const T* probs, const uint8_t* seeds, const uint8_t* present, int64_t classes, int64_t height,
                int64_t width, T fg, T bg, uint8_t* out, Scratch<T>& scratch) {
  const int64_t plane = height * width;
  merge(scratch.seen, summarize(probs, classes, plane, scratch.sum), scratch.any);
  std::vector<int32_t>& label = scratch.label;
  std::vector<int32_t>& best = scratch.best;
  std::vector<T>& top = scratch.top;
  std::vector<uint8_t>& count = scratch.count;
  std::vector<int32_t>& fill = scratch.fill;
  std::vector<int64_t>& stack = scratch.stack;
  std::memcpy(out, seeds, static_cast<size_t>(classes * plane));
  // Step 1 class by class over whole planes (the loops vectorize), as growing_label
  // does per pixel: first the seeds' labels, then the maxima over the present classes
  // (strict > keeps the first of equal maxima) where they pass the thresholds.
  label.assign(static_cast<size_t>(plane), 0);
  count.assign(static_cast<size_t>(plane), 0);
  const uint8_t* cnt = count.data();
  if (classes < 255) {  // labels fit a byte: 16 pixels per SSE2 instruction instead of 4
    scratch.seed_label.assign(static_cast<size_t>(plane), 0);
    scratch.seed_bits |= seed_pass(seeds, present, classes, plane, scratch.seed_label.data(), count.data());
    std::copy(scratch.seed_label.begin(), scratch.seed_label.end(), label.begin());
  } else {
    scratch.seed_bits |= seed_pass(seeds, present, classes, plane, label.data(), count.data());
  }
  int64_t first = 0;  // the first present class starts the maxima
  while (first < classes && present && !present[first]) ++first;
  if (first < classes) {
    best.assign(static_cast<size_t>(plane), static_cast<int32_t>(first));
    top.assign(probs + first * plane, probs + (first + 1) * plane);
    int32_t* __restrict b = best.data();
    T* __restrict t = top.data();
    for (int64_t c = first + 1; c < classes; ++c) {
      if (present && !present[c]) continue;
      const T* __restrict p = probs + c * plane;
      const int32_t cls = static_cast<int32_t>(c);
      for (int64_t i = 0; i < plane; ++i) {
        const bool better = p[i] > t[i];
        t[i] = better ? p[i] : t[i];
        b[i] = better ? cls : b[i];
      }
    }
    int32_t* __restrict lab = label.data();
    for (int64_t i = 0; i < plane; ++i) {
      const bool passes = t[i] > fg && (b[i] != 0 || t[i] > bg);
      lab[i] = passes ? b[i] + 1 : lab[i];
    }
  }
  // The fill runs on a copy of the labels with a border of 0 (no label), so that the
  // 8 neighbours are fixed offsets with no bounds checks; visited pixels get their label
  // negated.
  const int64_t pw = width + 2;
  fill.assign(static_cast<size_t>((height + 2) * pw), 0);
  int32_t* __restrict f = fill.data() + pw + 1;  // f[y * pw + x]
  for (int64_t y = 0; y < height; ++y) std::copy(&label[y * width], &label[y * width] + width, f + y * pw);
  const int64_t around[8] = {-pw - 1, -pw, -pw + 1, -1, 1, pw - 1, pw, pw + 1};
  stack.clear();
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const int32_t l = f[y * pw + x];
      if (l <= 0 || !seeds[(l - 1) * plane + y * width + x]) continue;
      f[y * pw + x] = -l;
      stack.push_back(y * pw + x);
      while (!stack.empty()) {
        const int64_t j = stack.back();
        stack.pop_back();
        for (int64_t step : around) {
          if (f[j + step] == l) {
            f[j + step] = -l;
            stack.push_back(j + step);
          }
        }
      }
    }
  }
  // The fill's reach joins the seeds of its class, but for growing_may_join's exception:
  // a pixel with exactly one seed, of another class.
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      // Branch-free (the reach is ragged): an unvisited pixel ORs 0 into channel 0.
      const int32_t l = f[y * pw + x];
      const int64_t i = y * width + x, at = (l < 0 ? -l - 1 : 0) * plane + i;
      out[at] |= static_cast<uint8_t>(l < 0 && (seeds[at] | (cnt[i] != 1)));
    }
  }
}

}  // namespace

template <class T>
InputSummary region_growing(const T* probs, const uint8_t* seeds, const uint8_t* present, int64_t batch,
                                  int64_t classes, int64_t height, int64_t width, double fg_threshold,
                                  double bg_threshold, uint8_t* out, int threads) {
  const int64_t image = classes * height * width;
  if (batch <= 0 || image == 0) return {};
  const T fg = static_cast<T>(fg_threshold), bg = static_cast<T>(bg_threshold);
  const int t = resolve_threads(threads, batch);
  std::vector<Scratch<T>> scratch(t);
  parallel_for(batch, t, [&](int worker, int64_t b) {
    grow_image(probs + b * image, seeds + b * image, present ? present + b * classes : nullptr, classes, height,
               width, fg, bg, out + b * image, scratch[worker]);
  });
  InputSummary seen;
  bool any = false;
  for (const Scratch<T>& s : scratch) {
    if (s.any) merge(seen, s.seen, any);
    seen.binary_seeds = seen.binary_seeds && (s.seed_bits & ~1) == 0;
  }
  return seen;
}

template InputSummary region_growing<float>(const float*, const uint8_t*, const uint8_t*, int64_t, int64_t,
                                                  int64_t, int64_t, double, double, uint8_t*, int);
template InputSummary region_growing<double>(const double*, const uint8_t*, const uint8_t*, int64_t, int64_t,
                                                   int64_t, int64_t, double, double, uint8_t*, int);

}  // namespace weaksup
