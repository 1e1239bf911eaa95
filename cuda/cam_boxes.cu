// CAM -> box on the GPU, as cpp/cam_boxes.cpp: per-map min/max, the same foreground
// cut (so every comparison is the CPU's), labeling, and the box of the largest
// component (ties: the first in raster order).
#include <limits>

#include "cam_boxes.hpp"
#include "common.cuh"
#include "exact.hpp"
#include "kernels.hpp"

namespace weaksup {
namespace gpu {

namespace {

// ---- per-map state ----

template <class T>
struct Maps {
  const T* cams;
  int64_t batch;
  int64_t pixels;
  Bits<T>* lo;        // ordered bits of the map's minimum
  Bits<T>* hi;        // ... and maximum
  T* cut;             // foreground: v >= cut[b] ...
  uint8_t* has_cut;   // ... when has_cut[b]
  uint64_t* largest;  // area << 32 | ~root of the largest component
};

template <class T>
struct AboveCut {
  Maps<T> maps;
  __device__ bool operator()(int64_t b, int32_t i) const {
    return maps.has_cut[b] && maps.cams[b * maps.pixels + i] >= maps.cut[b];
  }
};

template <class T>
__global__ void init_maps(Maps<T> maps, int64_t* boxes) {
  for (int64_t b = first_index(); b < maps.batch; b += index_stride()) {
    maps.lo[b] = ~Bits<T>{0};
    maps.hi[b] = 0;
    maps.largest[b] = 0;
    boxes[4 * b] = std::numeric_limits<int64_t>::max();
    boxes[4 * b + 1] = std::numeric_limits<int64_t>::max();
    boxes[4 * b + 2] = -1;
    boxes[4 * b + 3] = -1;
  }
}

// Per-map min and max (see threads_per_map); *bad = 1 if a value is not finite.
template <class T>
__global__ void map_ranges(Maps<T> maps, int64_t per_map, int* bad) {
  for (int64_t t = first_index(); t < maps.batch * per_map; t += index_stride()) {
    const int64_t b = t / per_map;
    const T* cam = maps.cams + b * maps.pixels;
    Bits<T> lo = ~Bits<T>{0}, hi = 0;
    for (int64_t i = t % per_map; i < maps.pixels; i += per_map) {
      if (!is_finite(cam[i])) {
        *bad = 1;  // every writer stores the same value
        break;
      }
      const Bits<T> k = to_ordered(cam[i]);
      lo = k < lo ? k : lo;
      hi = k > hi ? k : hi;
    }
    atomic_min(&maps.lo[b], lo);
    atomic_max(&maps.hi[b], hi);
  }
}

template <class T>
__global__ void find_cuts(Maps<T> maps, double threshold, CamNormalization norm) {
  for (int64_t b = first_index(); b < maps.batch; b += index_stride()) {
    maps.has_cut[b] = foreground_cut(from_ordered<T>(maps.lo[b]), from_ordered<T>(maps.hi[b]), threshold, norm,
                                     &maps.cut[b]);
  }
}

// area[root] += pixels of the component, per segment.
template <class T>
__global__ void component_areas(AboveCut<T> fg, const int32_t* root, int64_t height, int64_t width, uint32_t* area) {
  const int64_t pixels = height * width;
  const int32_t w = static_cast<int32_t>(width);
  for (int64_t g = first_index(); g < fg.maps.batch * pixels; g += index_stride()) {
    const int64_t b = g / pixels;
    const int32_t i = static_cast<int32_t>(g - b * pixels);
    if (!fg(b, i)) continue;
    const int32_t x = i % w;
    // Background pixels are their own roots, so a segment never runs into one.
    const int32_t end = segment_end(root + (g - x), x, w);
    if (end >= 0) atomicAdd(&area[b * pixels + root[g]], static_cast<uint32_t>(end - x));
  }
}

// The largest component; among equal areas the smallest root, i.e. the first in raster
// order, as std::max_element over the CPU's component numbers.
template <class T>
__global__ void pick_largest(AboveCut<T> fg, const int32_t* root, const uint32_t* area) {
  const int64_t pixels = fg.maps.pixels;
  for (int64_t g = first_index(); g < fg.maps.batch * pixels; g += index_stride()) {
    const int64_t b = g / pixels;
    const int32_t i = static_cast<int32_t>(g - b * pixels);
    if (root[g] != i || !fg(b, i)) continue;
    atomic_max(&fg.maps.largest[b], uint64_t{area[g]} << 32 | (0xFFFFFFFFu - static_cast<uint32_t>(i)));
  }
}

template <class T>
__global__ void largest_box(AboveCut<T> fg, const int32_t* root, int64_t height, int64_t width, int64_t* boxes) {
  const int64_t pixels = height * width;
  const int32_t w = static_cast<int32_t>(width);
  for (int64_t g = first_index(); g < fg.maps.batch * pixels; g += index_stride()) {
    const int64_t b = g / pixels;
    const int32_t i = static_cast<int32_t>(g - b * pixels);
    if (!fg(b, i)) continue;
    const int32_t winner = static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(fg.maps.largest[b]));
    if (root[g] != winner) continue;
    const int32_t x = i % w;
    const int32_t end = segment_end(root + (g - x), x, w);
    if (end < 0) continue;
    atomic_min(&boxes[4 * b], x);
    atomic_min(&boxes[4 * b + 1], i / w);
    atomic_max(&boxes[4 * b + 2], end - 1);
    atomic_max(&boxes[4 * b + 3], i / w);
  }
}

// Maps without foreground keep x1 == -1: the CPU's -1, -1, -1, -1.
__global__ void finish_boxes(int64_t batch, int64_t* boxes) {
  for (int64_t b = first_index(); b < batch; b += index_stride()) {
    if (boxes[4 * b + 2] < 0) {
      for (int k = 0; k < 4; ++k) boxes[4 * b + k] = -1;
    }
  }
}

template <class T>
void boxes_of_cams(const T* cams, int64_t batch, int64_t height, int64_t width, double threshold, CamNormalization norm,
               int connectivity, int64_t* boxes, cudaStream_t stream) {
  const int64_t pixels = height * width;
  DeviceBuffer<Bits<T>> lo(batch, stream), hi(batch, stream);
  DeviceBuffer<T> cut(batch, stream);
  DeviceBuffer<uint8_t> has_cut(batch, stream);
  DeviceBuffer<uint64_t> largest(batch, stream);
  DeviceBuffer<int> bad(1, stream);
  const Maps<T> maps{cams, batch, pixels, lo.get(), hi.get(), cut.get(), has_cut.get(), largest.get()};
  WEAKSUP_CUDA_CHECK(cudaMemsetAsync(bad.get(), 0, sizeof(int), stream));
  launch(init_maps<T>, batch, stream, maps, boxes);
  if (pixels > 0) {
    const int64_t per_map = threads_per_map(pixels);
    launch(map_ranges<T>, batch * per_map, stream, maps, per_map, bad.get());
    launch(find_cuts<T>, batch, stream, maps, threshold, norm);

    DeviceBuffer<int32_t> root(batch * pixels, stream);
    DeviceBuffer<uint32_t> area(batch * pixels, stream);
    const AboveCut<T> fg{maps};
    label_grid(fg, root.get(), batch, height, width, connectivity, 0, stream);
    WEAKSUP_CUDA_CHECK(cudaMemsetAsync(area.get(), 0, sizeof(uint32_t) * batch * pixels, stream));
    launch(component_areas<T>, batch * pixels, stream, fg, root.get(), height, width, area.get());
    launch(pick_largest<T>, batch * pixels, stream, fg, root.get(), area.get());
    launch(largest_box<T>, batch * pixels, stream, fg, root.get(), height, width, boxes);
  }
  launch(finish_boxes, batch, stream, batch, boxes);
  if (download(bad.get(), 1, stream)[0]) {
    throw std::invalid_argument(
        "cams: map contains NaN or infinity; replace those values (e.g. numpy.nan_to_num) before calling");
  }
}

}  // namespace

void cam_to_boxes(const void* cams, int dtype, int64_t batch, int64_t height, int64_t width, double threshold,
                  int normalization, int connectivity, int64_t* boxes, void* stream_handle) {
  if (connectivity != 4 && connectivity != 8) throw std::invalid_argument("connectivity must be 4 or 8");
  if (normalization < 0 || normalization > 2) throw std::invalid_argument("unknown CAM normalization");
  if (batch <= 0) return;
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const auto norm = static_cast<CamNormalization>(normalization);
  switch (dtype) {
    case kFloat32:
      boxes_of_cams(static_cast<const float*>(cams), batch, height, width, threshold, norm, connectivity, boxes, stream);
      break;
    case kFloat64:
      boxes_of_cams(static_cast<const double*>(cams), batch, height, width, threshold, norm, connectivity, boxes, stream);
      break;
    default: throw std::invalid_argument("cams: dtype must be float32 or float64");
  }
}

}  // namespace gpu
}  // namespace weaksup
