#include "components.hpp"

#include <algorithm>
#include <limits>

#include "parallel.hpp"
#include "runs.hpp"

namespace weaksup {

bool valid_connectivity(int connectivity) { return !row_neighbours(connectivity).empty(); }

namespace {

template <class Index>
void accumulate_stats(const RunLabeler<Index>& lab, Index count, int64_t height, ComponentStats& st) {
  const size_t k = static_cast<size_t>(count);
  st.area.assign(k, 0);
  st.box.resize(6 * k);
  for (size_t c = 0; c < k; ++c) {
    for (int a = 0; a < 3; ++a) {
      st.box[6 * c + a] = std::numeric_limits<int64_t>::max();
      st.box[6 * c + 3 + a] = -1;
    }
  }
  std::vector<int64_t> sums(3 * k, 0);  // exact integer coordinate sums
  const int64_t rows = static_cast<int64_t>(lab.row_start.size()) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t z = r / height, y = r % height;
    for (Index i = lab.row_start[r]; i < lab.row_start[r + 1]; ++i) {
      const Run run = lab.runs[i];
      const size_t c = static_cast<size_t>(lab.sets.parent[i] - 1);
      const int64_t len = run.end - run.begin;
      st.area[c] += len;
      sums[3 * c] += (static_cast<int64_t>(run.begin) + run.end - 1) * len / 2;
      sums[3 * c + 1] += y * len;
      sums[3 * c + 2] += z * len;
      int64_t* b = &st.box[6 * c];
      b[0] = std::min<int64_t>(b[0], run.begin);
      b[1] = std::min(b[1], y);
      b[2] = std::min(b[2], z);
      b[3] = std::max<int64_t>(b[3], run.end - 1);
      b[4] = std::max(b[4], y);
      b[5] = std::max(b[5], z);
    }
  }
  st.centroid.resize(3 * k);
  for (size_t c = 0; c < 3 * k; ++c) st.centroid[c] = static_cast<double>(sums[c]) / st.area[c / 3];
}

template <class Index, class LabelT>
void write_labels(const RunLabeler<Index>& lab, int64_t width, LabelT* out) {
  const int64_t rows = static_cast<int64_t>(lab.row_start.size()) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    LabelT* row = out + r * width;
    int64_t x = 0;
    for (Index i = lab.row_start[r]; i < lab.row_start[r + 1]; ++i) {
      const Run run = lab.runs[i];
      std::fill(row + x, row + run.begin, LabelT{0});
      std::fill(row + run.begin, row + run.end, static_cast<LabelT>(lab.sets.parent[i]));
      x = run.end;
    }
    std::fill(row + x, row + width, LabelT{0});
  }
}

template <class Index>
void label_batch(const uint8_t* mask, int64_t batch, VolumeShape shape, int connectivity, Index* labels,
                 int64_t* counts, std::vector<ComponentStats>* stats, int threads) {
  const auto neighbours = row_neighbours(connectivity);
  const int64_t volume = shape.size();
  const int64_t rows = shape.depth * shape.height;
  std::vector<RunLabeler<Index>> labelers(static_cast<size_t>(resolve_threads(threads, batch)));
  if (stats) stats->assign(static_cast<size_t>(batch), {});
  parallel_for(batch, threads, [&](int worker, int64_t b) {
    RunLabeler<Index>& lab = labelers[worker];
    const uint8_t* m = mask + b * volume;
    const Index k = lab.label(shape.depth, shape.height, shape.width, neighbours,
                              [&](int64_t r, uint64_t* words) { bits_nonzero(m + r * shape.width, shape.width, words, (rows - r) * shape.width); });
    counts[b] = k;
    if (labels) write_labels(lab, shape.width, labels + b * volume);
    if (stats) accumulate_stats(lab, k, shape.height, (*stats)[b]);
  });
}

}  // namespace

void label_volumes(const uint8_t* mask, int64_t batch, VolumeShape shape, int connectivity, int32_t* labels32,
                   int64_t* labels64, int64_t* counts, std::vector<ComponentStats>* stats, int threads) {
  // Run indices and labels are bounded by the pixel count of one volume.
  if (labels64 || shape.size() > std::numeric_limits<int32_t>::max()) {
    label_batch<int64_t>(mask, batch, shape, connectivity, labels64, counts, stats, threads);
  } else {
    label_batch<int32_t>(mask, batch, shape, connectivity, labels32, counts, stats, threads);
  }
}

}  // namespace weaksup
