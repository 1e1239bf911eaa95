#include "region_growing.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "parallel.hpp"

namespace weaksup {

namespace {

// One image: labels, then a flood fill from every pixel that is a seed of its own
// label, through 8-neighbours of the same label. A present class's region holds a seed
// exactly when the fill reaches it, so the fill's reach is the union of those regions.
template <class T>
void grow_image(const T* probs, const uint8_t* seeds, const uint8_t* present, int64_t classes, int64_t height,
                int64_t width, T fg, T bg, uint8_t* out, std::vector<int32_t>& label,
                std::vector<int32_t>& best, std::vector<T>& top, std::vector<uint8_t>& count,
                std::vector<int32_t>& fill, std::vector<int64_t>& stack) {
  const int64_t plane = height * width;
  std::memcpy(out, seeds, static_cast<size_t>(classes * plane));
  // Step 1 class by class over whole planes (the loops vectorize), as growing_label
  // does per pixel: strict > keeps the first of equal maxima.
  label.assign(static_cast<size_t>(plane), 0);
  top.assign(static_cast<size_t>(plane), T(0));
  // The highest seeded class (a later class overwrites), and the seeds per pixel (0, 1
  // or 2 for "more"). Seeds are 0 / 1 and the pointers restrict-qualified (uint8 stores
  // may alias anything otherwise), so the branch-free loop vectorizes.
  count.assign(static_cast<size_t>(plane), 0);
  int32_t* __restrict lab = label.data();
  uint8_t* __restrict cnt = count.data();
  for (int64_t c = 0; c < classes; ++c) {
    const uint8_t* __restrict s = seeds + c * plane;
    const int32_t cls = static_cast<int32_t>(c + 1);
    for (int64_t i = 0; i < plane; ++i) {
      lab[i] = s[i] ? cls : lab[i];
      cnt[i] = static_cast<uint8_t>(std::min(cnt[i] + s[i], 2));
    }
  }
  best.assign(static_cast<size_t>(plane), -1);
  for (int64_t c = 0; c < classes; ++c) {
    if (present && !present[c]) continue;
    const T* p = probs + c * plane;
    const int32_t cls = static_cast<int32_t>(c);
    for (int64_t i = 0; i < plane; ++i) {
      const bool better = best[i] < 0 || p[i] > top[i];
      top[i] = better ? p[i] : top[i];
      best[i] = better ? cls : best[i];
    }
  }
  for (int64_t i = 0; i < plane; ++i) {
    if (best[i] >= 0 && top[i] > fg && (best[i] != 0 || top[i] > bg)) label[i] = best[i] + 1;
    // Labels of absent classes never grow: drop them so the fill cannot enter them.
    if (label[i] > 0 && present && !present[label[i] - 1]) label[i] = 0;
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
void region_growing(const T* probs, const uint8_t* seeds, const uint8_t* present, int64_t batch, int64_t classes,
                    int64_t height, int64_t width, double fg_threshold, double bg_threshold, uint8_t* out,
                    int threads) {
  const int64_t image = classes * height * width;
  if (batch <= 0 || image == 0) return;
  const T fg = static_cast<T>(fg_threshold), bg = static_cast<T>(bg_threshold);
  const int t = resolve_threads(threads, batch);
  std::vector<std::vector<int32_t>> labels(t);
  std::vector<std::vector<int32_t>> bests(t);
  std::vector<std::vector<T>> tops(t);
  std::vector<std::vector<uint8_t>> counts(t);
  std::vector<std::vector<int32_t>> fills(t);
  std::vector<std::vector<int64_t>> stacks(t);
  parallel_for(batch, t, [&](int worker, int64_t b) {
    grow_image(probs + b * image, seeds + b * image, present ? present + b * classes : nullptr, classes, height,
               width, fg, bg, out + b * image, labels[worker], bests[worker], tops[worker],
               counts[worker], fills[worker], stacks[worker]);
  });
}

template void region_growing<float>(const float*, const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t,
                                    int64_t, double, double, uint8_t*, int);
template void region_growing<double>(const double*, const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t,
                                     int64_t, double, double, uint8_t*, int);

}  // namespace weaksup
