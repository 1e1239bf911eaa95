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
                std::vector<int64_t>& stack) {
  const int64_t plane = height * width;
  std::memcpy(out, seeds, static_cast<size_t>(classes * plane));
  label.assign(static_cast<size_t>(plane), 0);
  for (int64_t i = 0; i < plane; ++i) {
    const int32_t l = growing_label(probs + i, seeds + i, present, classes, plane, fg, bg);
    // Labels of absent classes never grow: drop them so the fill cannot enter them.
    label[i] = (l > 0 && present && !present[l - 1]) ? 0 : l;
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
      if (growing_may_join(seeds + j, present, classes, plane, l)) out[(l - 1) * plane + j] = 1;
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
  std::vector<std::vector<int64_t>> stacks(t);
  parallel_for(batch, t, [&](int worker, int64_t b) {
    grow_image(probs + b * image, seeds + b * image, present ? present + b * classes : nullptr, classes, height,
               width, fg, bg, out + b * image, labels[worker], stacks[worker]);
  });
}

template void region_growing<float>(const float*, const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t,
                                    int64_t, double, double, uint8_t*, int);
template void region_growing<double>(const double*, const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t,
                                     int64_t, double, double, uint8_t*, int);

}  // namespace weaksup
