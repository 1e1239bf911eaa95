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
                std::vector<int64_t>& stack) {
  const int64_t plane = height * width;
  std::memcpy(out, seeds, static_cast<size_t>(classes * plane));
  // Step 1 class by class over whole planes (the loops vectorize), as growing_label
  // does per pixel: strict > keeps the first of equal maxima.
  label.assign(static_cast<size_t>(plane), 0);
  top.assign(static_cast<size_t>(plane), T(0));
  // The highest seeded class, and the seeds per pixel (0, 1 or 2 for "more").
  count.assign(static_cast<size_t>(plane), 0);
  for (int64_t c = classes - 1; c >= 0; --c) {
    const uint8_t* s = seeds + c * plane;
    for (int64_t i = 0; i < plane; ++i) {
      if (label[i] == 0 && s[i]) label[i] = static_cast<int32_t>(c + 1);
      count[i] = static_cast<uint8_t>(std::min(count[i] + (s[i] != 0), 2));
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
  // label[i] < 0 marks visited pixels (their label negated).
  stack.clear();
  for (int64_t i = 0; i < plane; ++i) {
    const int32_t l = label[i];
    if (l <= 0 || !seeds[(l - 1) * plane + i]) continue;
    label[i] = -l;
    stack.push_back(i);
    while (!stack.empty()) {
      const int64_t j = stack.back();
      stack.pop_back();
      // growing_may_join, with the seed count at hand (the label's class is present).
      if (seeds[(l - 1) * plane + j] || count[j] != 1) out[(l - 1) * plane + j] = 1;
      const int64_t y = j / width, x = j % width;
      for (int64_t ny = std::max<int64_t>(y - 1, 0); ny <= std::min(y + 1, height - 1); ++ny) {
        for (int64_t nx = std::max<int64_t>(x - 1, 0); nx <= std::min(x + 1, width - 1); ++nx) {
          const int64_t k = ny * width + nx;
          if (label[k] == l) {
            label[k] = -l;
            stack.push_back(k);
          }
        }
      }
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
  std::vector<std::vector<int64_t>> stacks(t);
  parallel_for(batch, t, [&](int worker, int64_t b) {
    grow_image(probs + b * image, seeds + b * image, present ? present + b * classes : nullptr, classes, height,
               width, fg, bg, out + b * image, labels[worker], bests[worker], tops[worker],
               counts[worker], stacks[worker]);
  });
}

template void region_growing<float>(const float*, const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t,
                                    int64_t, double, double, uint8_t*, int);
template void region_growing<double>(const double*, const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t,
                                     int64_t, double, double, uint8_t*, int);

}  // namespace weaksup
