// Connected-component labeling of binary images and per-component statistics.
//
// Labels come from the union-find of common.cuh (roots = first pixels in raster
// order). Roots are then numbered per image in raster order: each chunk of kChunk
// pixels counts its roots, a scan turns the counts into each chunk's first number,
// and one thread per chunk numbers the roots inside it.
#include <cub/device/device_scan.cuh>

#include <cstdlib>
#include <limits>

#include "common.cuh"
#include "kernels.hpp"

namespace weaksup {
namespace gpu {

namespace {

constexpr int64_t kChunk = 1024;

struct MaskIsFg {
  const uint8_t* mask;
  int64_t pixels;
  __device__ bool operator()(int64_t image, int32_t i) const { return mask[image * pixels + i] != 0; }
};

// Chunk c covers pixels [begin, end) of image c / chunks_per_image.
struct Chunks {
  int64_t count;  // chunks in all images
  int64_t per_image;
  int64_t pixels;
  __device__ int64_t image(int64_t c) const { return c / per_image; }
  __device__ int64_t begin(int64_t c) const { return (c % per_image) * kChunk; }
  __device__ int64_t end(int64_t c) const { return std::min(begin(c) + kChunk, pixels); }
};

// roots[c] = number of component roots in chunk c, and roots[count] = 0 so that after
// an exclusive scan that entry holds the total.
__global__ void count_roots(const uint8_t* mask, const int32_t* labels, Chunks chunks, int64_t* roots) {
  for (int64_t c = first_index(); c <= chunks.count; c += index_stride()) {
    int64_t n = 0;
    if (c < chunks.count) {
      const int64_t offset = chunks.image(c) * chunks.pixels;
      for (int64_t i = chunks.begin(c); i < chunks.end(c); ++i) n += mask[offset + i] && labels[offset + i] == i;
    }
    roots[c] = n;
  }
}

// first[c] = roots before chunk c (all images). Stores -(component number) at each
// root, numbering from 1 per image; each thread touches only its own chunk.
__global__ void number_roots(const uint8_t* mask, int32_t* labels, Chunks chunks, const int64_t* first) {
  for (int64_t c = first_index(); c < chunks.count; c += index_stride()) {
    const int64_t image = chunks.image(c);
    const int64_t offset = image * chunks.pixels;
    int64_t number = first[c] - first[image * chunks.per_image];  // roots of this image before chunk c
    for (int64_t i = chunks.begin(c); i < chunks.end(c); ++i) {
      if (mask[offset + i] && labels[offset + i] == i) labels[offset + i] = -static_cast<int32_t>(++number);
    }
  }
}

// Roots hold -(number), other foreground pixels the index of their root.
__global__ void write_labels(const uint8_t* mask, int32_t* labels, int64_t images, int64_t pixels) {
  for (int64_t g = first_index(); g < images * pixels; g += index_stride()) {
    if (!mask[g]) {
      labels[g] = 0;
      continue;
    }
    const int32_t v = labels[g];
    if (v < 0) {
      labels[g] = -v;
    } else {
      // The root's own thread may have flipped its sign already: either way, abs.
      labels[g] = abs(load_volatile(labels + (g / pixels) * pixels + v));
    }
  }
}

__global__ void write_counts(const int64_t* first, int64_t images, int64_t chunks_per_image, int64_t* counts) {
  for (int64_t b = first_index(); b < images; b += index_stride()) {
    counts[b] = first[(b + 1) * chunks_per_image] - first[b * chunks_per_image];
  }
}

// In-place exclusive prefix sum of n int64 values (integer sums: deterministic).
void exclusive_sum(int64_t* data, int64_t n, cudaStream_t stream) {
  size_t bytes = 0;
  WEAKSUP_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, bytes, data, n, stream));
  DeviceBuffer<uint8_t> temp(static_cast<int64_t>(std::max<size_t>(bytes, 1)), stream);
  WEAKSUP_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp.get(), bytes, data, n, stream));
}

// ---- statistics ----

// Components of all images: [0, offsets[batch]), read on the device so that the host
// need not wait for the counts.
__global__ void init_stats(const int64_t* offsets, int64_t batch, int64_t* area, int64_t* box, int64_t* sums) {
  const int64_t n = offsets[batch];
  for (int64_t j = first_index(); j < n; j += index_stride()) {
    area[j] = 0;
    box[4 * j] = std::numeric_limits<int64_t>::max();
    box[4 * j + 1] = std::numeric_limits<int64_t>::max();
    box[4 * j + 2] = -1;
    box[4 * j + 3] = -1;
    sums[2 * j] = 0;
    sums[2 * j + 1] = 0;
  }
}

// Area, box and exact coordinate sums, one atomic update per segment.
__global__ void accumulate_stats(const int32_t* labels, int64_t batch, int64_t height, int64_t width,
                                 const int64_t* offsets, int64_t* area, int64_t* box, int64_t* sums) {
  const int64_t pixels = height * width;
  const int32_t w = static_cast<int32_t>(width);
  for (int64_t g = first_index(); g < batch * pixels; g += index_stride()) {
    const int32_t k = labels[g];
    if (k == 0) continue;  // background
    const int64_t image = g / pixels;
    const int32_t i = static_cast<int32_t>(g - image * pixels);
    const int32_t y = i / w, x = i % w;
    const int32_t end = segment_end(labels + (g - x), x, w);
    if (end < 0) continue;
    const int64_t len = end - x;
    const int64_t j = offsets[image] + k - 1;
    atomic_add(&area[j], len);
    atomic_add(&sums[2 * j], (static_cast<int64_t>(x) + end - 1) * len / 2);  // x + ... + (end - 1)
    atomic_add(&sums[2 * j + 1], static_cast<int64_t>(y) * len);
    atomic_min(&box[4 * j], x);
    atomic_min(&box[4 * j + 1], y);
    atomic_max(&box[4 * j + 2], end - 1);
    atomic_max(&box[4 * j + 3], y);
  }
}

// centroid holds the int64 coordinate sums; replaces them by sum / area, as the CPU.
__global__ void finish_centroids(const int64_t* offsets, int64_t batch, const int64_t* area, double* centroid) {
  const int64_t n = 2 * offsets[batch];
  for (int64_t j = first_index(); j < n; j += index_stride()) {
    int64_t sum;
    memcpy(&sum, centroid + j, sizeof sum);
    centroid[j] = static_cast<double>(sum) / static_cast<double>(area[j / 2]);
  }
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: not an error for callers
    return 0;
  }
  return n;
}

void label(const uint8_t* mask, int32_t* labels, int64_t* counts, int64_t batch, int64_t height, int64_t width,
           int connectivity, void* stream_handle) {
  if (connectivity != 4 && connectivity != 8) throw std::invalid_argument("connectivity must be 4 or 8");
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const int64_t pixels = height * width;
  if (batch <= 0) return;
  if (pixels == 0) {
    WEAKSUP_CUDA_CHECK(cudaMemsetAsync(counts, 0, sizeof(int64_t) * batch, stream));
    return;
  }
  label_grid(MaskIsFg{mask, pixels}, labels, batch, height, width, connectivity, 0, stream);

  const Chunks chunks{batch * ((pixels + kChunk - 1) / kChunk), (pixels + kChunk - 1) / kChunk, pixels};
  DeviceBuffer<int64_t> first(chunks.count + 1, stream);
  launch(count_roots, chunks.count + 1, stream, mask, labels, chunks, first.get());
  exclusive_sum(first.get(), chunks.count + 1, stream);
  launch(number_roots, chunks.count, stream, mask, labels, chunks, first.get());
  launch(write_labels, batch * pixels, stream, mask, labels, batch, pixels);
  launch(write_counts, batch, stream, first.get(), batch, chunks.per_image, counts);
}

void component_stats(const int32_t* labels, int64_t batch, int64_t height, int64_t width, const int64_t* offsets,
                     int64_t* area, int64_t* box, double* centroid, void* stream_handle) {
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const int64_t pixels = height * width;
  if (batch <= 0 || pixels == 0) return;
  // The centroid output doubles as the int64 coordinate sums (same size), so no scratch
  // buffer, whose size only the device knows, is needed. There are at most `pixels`
  // components per image: enough threads for the per-component kernels.
  int64_t* sums = reinterpret_cast<int64_t*>(centroid);
  launch(init_stats, batch * pixels, stream, offsets, batch, area, box, sums);
  launch(accumulate_stats, batch * pixels, stream, labels, batch, height, width, offsets, area, box, sums);
  launch(finish_centroids, 2 * batch * pixels, stream, offsets, batch, area, centroid);
}

}  // namespace gpu
}  // namespace weaksup
