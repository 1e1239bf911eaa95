// DSRG's seeded region growing (cpp/region_growing.hpp), on the GPU.
//
// Every pixel gets its label (growing_label, shared with the CPU); the union-find of
// common.cuh joins 8-neighbours of equal label into regions; each seed of its own label
// marks its region's root; then every pixel of a marked region that may join
// (growing_may_join) is set in the output, which starts as a copy of the seeds. The
// result is the union of the seeded regions, whatever order threads run in: it equals the
// CPU's flood fill exactly.
#include <cstdint>

#include "common.cuh"
#include "kernels.hpp"
#include "region_growing.hpp"

namespace weaksup {
namespace gpu {

namespace {

struct Grid {
  const uint8_t* seeds;
  const uint8_t* present;  // (batch, classes) or nullptr
  int64_t images, classes, height, width;
  __device__ int64_t pixels() const { return height * width; }
  // The seed of channel 0 at pixel i of image b; channels are pixels() apart.
  __device__ const uint8_t* seeds_at(int64_t b, int64_t i) const { return seeds + b * classes * pixels() + i; }
  __device__ const uint8_t* present_of(int64_t b) const { return present ? present + b * classes : nullptr; }
};

// label[g]: the pixel's label, 0 where none or where its class is absent; parent[g] = i.
template <class T>
__global__ void label_pixels(const T* probs, Grid grid, T fg, T bg, int32_t* label, int32_t* parent,
                             int32_t* marked) {
  const int64_t pixels = grid.pixels();
  for (int64_t g = first_index(); g < grid.images * pixels; g += index_stride()) {
    const int64_t b = g / pixels, i = g - b * pixels;
    const uint8_t* present = grid.present_of(b);
    int32_t l = growing_label(probs + b * grid.classes * pixels + i, grid.seeds_at(b, i), present, grid.classes,
                              pixels, fg, bg);
    if (l > 0 && present && !present[l - 1]) l = 0;
    label[g] = l;
    parent[g] = static_cast<int32_t>(i);
    marked[g] = 0;
  }
}

// Joins each labelled pixel to its earlier 8-neighbours of the same label.
__global__ void unite_labels(Grid grid, const int32_t* label, int32_t* parent) {
  const int64_t pixels = grid.pixels();
  const int32_t w = static_cast<int32_t>(grid.width);
  for (int64_t g = first_index(); g < grid.images * pixels; g += index_stride()) {
    const int32_t l = label[g];
    if (l == 0) continue;
    const int64_t b = g / pixels;
    const int32_t i = static_cast<int32_t>(g - b * pixels), x = i % w;
    const int32_t* lab = label + b * pixels;
    int32_t* p = parent + b * pixels;
    if (x > 0 && lab[i - 1] == l) unite(p, i, i - 1);
    if (i < w) continue;  // first row
    const int32_t up = i - w;
    if (lab[up] == l) unite(p, i, up);
    if (x > 0 && lab[up - 1] == l) unite(p, i, up - 1);
    if (x + 1 < w && lab[up + 1] == l) unite(p, i, up + 1);
  }
}

// A seed of its own label marks the root of its region (after the unions have finished).
__global__ void mark_seeded(Grid grid, const int32_t* label, int32_t* parent, int32_t* marked) {
  const int64_t pixels = grid.pixels();
  for (int64_t g = first_index(); g < grid.images * pixels; g += index_stride()) {
    const int32_t l = label[g];
    if (l == 0) continue;
    const int64_t b = g / pixels, i = g - b * pixels;
    if (!grid.seeds_at(b, i)[(l - 1) * pixels]) continue;
    atomicMax(marked + b * pixels + find_root(parent + b * pixels, static_cast<int32_t>(i)), 1);
  }
}

// Pixels of marked regions that may join are set in their label's channel.
__global__ void write_grown(Grid grid, const int32_t* label, int32_t* parent, const int32_t* marked,
                            uint8_t* out) {
  const int64_t pixels = grid.pixels();
  for (int64_t g = first_index(); g < grid.images * pixels; g += index_stride()) {
    const int32_t l = label[g];
    if (l == 0) continue;
    const int64_t b = g / pixels, i = g - b * pixels;
    if (!marked[b * pixels + find_root(parent + b * pixels, static_cast<int32_t>(i))]) continue;
    if (growing_may_join(grid.seeds_at(b, i), grid.present_of(b), grid.classes, pixels, l)) {
      out[(b * grid.classes + l - 1) * pixels + i] = 1;
    }
  }
}

template <class T>
void grow(const T* probs, Grid grid, double fg_threshold, double bg_threshold, uint8_t* out, cudaStream_t stream) {
  const int64_t n = grid.images * grid.height * grid.width;
  const int64_t bytes = n * grid.classes;
  if (bytes == 0) return;
  WEAKSUP_CUDA_CHECK(cudaMemcpyAsync(out, grid.seeds, static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice, stream));
  DeviceBuffer<int32_t> label(n, stream), parent(n, stream), marked(n, stream);
  launch(label_pixels<T>, n, stream, probs, grid, static_cast<T>(fg_threshold), static_cast<T>(bg_threshold),
         label.get(), parent.get(), marked.get());
  launch(unite_labels, n, stream, grid, static_cast<const int32_t*>(label.get()), parent.get());
  launch(mark_seeded, n, stream, grid, static_cast<const int32_t*>(label.get()), parent.get(), marked.get());
  launch(write_grown, n, stream, grid, static_cast<const int32_t*>(label.get()), parent.get(),
         static_cast<const int32_t*>(marked.get()), out);
}

}  // namespace

void region_growing(const void* probs, int dtype, const uint8_t* seeds, const uint8_t* present, int64_t batch,
                    int64_t classes, int64_t height, int64_t width, double fg_threshold, double bg_threshold,
                    uint8_t* out, void* stream) {
  const Grid grid{seeds, present, batch, classes, height, width};
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == kFloat32) {
    grow(static_cast<const float*>(probs), grid, fg_threshold, bg_threshold, out, s);
  } else if (dtype == kFloat64) {
    grow(static_cast<const double*>(probs), grid, fg_threshold, bg_threshold, out, s);
  } else {
    throw std::invalid_argument("region_growing: dtype must be float32 or float64");
  }
}

}  // namespace gpu
}  // namespace weaksup
