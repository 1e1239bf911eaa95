#include "cam_boxes.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "exact.hpp"
#include "parallel.hpp"
#include "runs.hpp"
#include "value_range.hpp"

namespace weaksup {

namespace {

// Labels the pixels >= cut and writes the box of the largest component (ties: first).
template <class Index, class T>
void largest_box(RunLabeler<Index>& lab, const T* cam, int64_t height, int64_t width, T cut,
                 const std::vector<RowNeighbour>& neighbours, int64_t* box) {
  const Index k = lab.label(1, height, width, neighbours, [&](int64_t r, uint64_t* words) {
    bits_at_least(cam + r * width, width, cut, words, (height - r) * width);
  });
  if (k == 0) return;
  std::vector<int64_t> area(static_cast<size_t>(k), 0);
  for (size_t i = 0; i < lab.runs.size(); ++i) area[lab.sets.parent[i] - 1] += lab.runs[i].end - lab.runs[i].begin;
  const Index best = static_cast<Index>(1 + (std::max_element(area.begin(), area.end()) - area.begin()));
  int64_t x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (int64_t y = 0; y < height; ++y) {
    for (Index i = lab.row_start[y]; i < lab.row_start[y + 1]; ++i) {
      if (lab.sets.parent[i] != best) continue;
      x0 = std::min<int64_t>(x0, lab.runs[i].begin);
      x1 = std::max<int64_t>(x1, lab.runs[i].end - 1);
      y0 = std::min(y0, y);
      y1 = y;
    }
  }
  box[0] = x0;
  box[1] = y0;
  box[2] = x1;
  box[3] = y1;
}

}  // namespace

template <class T>
void cam_boxes(const T* cams, int64_t batch, int64_t height, int64_t width, double threshold,
               CamNormalization norm, int connectivity, int64_t* boxes, int threads) {
  const auto neighbours = row_neighbours(connectivity);
  const int64_t pixels = height * width;
  // 32-bit run indices while they fit: half the union-find memory traffic.
  const bool small = pixels <= std::numeric_limits<int32_t>::max();
  const size_t workers = static_cast<size_t>(resolve_threads(threads, batch));
  std::vector<RunLabeler<int32_t>> labelers32(small ? workers : 0);
  std::vector<RunLabeler<int64_t>> labelers64(small ? 0 : workers);
  parallel_for(batch, threads, [&](int worker, int64_t b) {
    const T* cam = cams + b * pixels;
    int64_t* box = boxes + 4 * b;
    std::fill(box, box + 4, int64_t{-1});
    if (pixels == 0) return;
    T lo, hi;
    if (!value_range(cam, pixels, &lo, &hi)) {
      throw std::invalid_argument("cams: map " + std::to_string(b) +
                                  " contains NaN or infinity; replace those values (e.g. numpy.nan_to_num) first");
    }
    T cut;
    if (!foreground_cut(lo, hi, threshold, norm, &cut)) return;

    if (small) largest_box(labelers32[worker], cam, height, width, cut, neighbours, box);
    else largest_box(labelers64[worker], cam, height, width, cut, neighbours, box);
  });
}

template void cam_boxes<float>(const float*, int64_t, int64_t, int64_t, double, CamNormalization, int, int64_t*,
                               int);
template void cam_boxes<double>(const double*, int64_t, int64_t, int64_t, double, CamNormalization, int, int64_t*,
                                int);

}  // namespace weaksup
