// Helpers shared by the CUDA kernels: error checks, launches, stream-ordered scratch
// buffers, integer atomics on 64-bit types, float bit tests, and the
// union-find labeling of pixel grids that every labeling kernel builds on.
//
// Kernels use 1-D grid-stride loops over 64-bit indices, no shared memory and no
// block-level synchronization, and only integer atomics, so results do not depend on
// the order in which threads run.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "exact.hpp"  // Bits, to_ordered / from_ordered

namespace weaksup {
namespace gpu {

// ---- errors ----

[[noreturn]] inline void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error: ") + cudaGetErrorString(error) + " (" + call + " at " + file +
                           ":" + std::to_string(line) + ")");
}

#define WEAKSUP_CUDA_CHECK(call)                                                       \
  do {                                                                                 \
    const cudaError_t weaksup_error_ = (call);                                         \
    if (weaksup_error_ != cudaSuccess) {                                               \
      ::weaksup::gpu::throw_cuda_error(weaksup_error_, #call, __FILE__, __LINE__);     \
    }                                                                                  \
  } while (0)

// ---- launches ----

constexpr int kThreads = 256;
// Blocks per launch; beyond that, threads loop (grid-stride). Tests lower it so that
// the loops run on small inputs.
#ifndef WEAKSUP_MAX_BLOCKS
#define WEAKSUP_MAX_BLOCKS (int64_t{1} << 16)
#endif
constexpr int64_t kMaxBlocks = WEAKSUP_MAX_BLOCKS;

inline unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks));
}

// Launches `kernel` with enough threads for n items (none when n <= 0) and checks it.
// WEAKSUP_CUDA_EMULATION (tests/cuda_emulator) compiles the kernels as plain C++ and
// runs their threads on the host, so the CUDA logic is tested without a GPU.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), int64_t n, cudaStream_t stream, Args... args) {
  if (n <= 0) return;
#ifdef WEAKSUP_CUDA_EMULATION
  emu_launch(blocks_for(n), kThreads, 0, stream, kernel, args...);
#else
  kernel<<<blocks_for(n), kThreads, 0, stream>>>(args...);
#endif
  WEAKSUP_CUDA_CHECK(cudaGetLastError());
}

// Grid-stride loops: for (int64_t i = first_index(); i < n; i += index_stride()).
__device__ inline int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t index_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// ---- scratch memory, freed on the stream after the work queued before it ----

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer(int64_t count, cudaStream_t stream) : stream_(stream) {
    if (count > 0) {
      WEAKSUP_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&data_), sizeof(T) * count, stream));
    }
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), stream_(other.stream_) { other.data_ = nullptr; }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  ~DeviceBuffer() {
    // Errors cannot be reported from here; clear them so no later check picks them up.
    if (data_ && cudaFreeAsync(data_, stream_) != cudaSuccess) cudaGetLastError();
  }
  T* get() const { return data_; }

 private:
  T* data_ = nullptr;
  cudaStream_t stream_;
};

// Copies host data to a new device buffer. cudaMemcpyAsync from pageable memory
// returns once the source has been staged, so `host` may go away afterwards.
template <class T>
DeviceBuffer<T> upload(const std::vector<T>& host, cudaStream_t stream) {
  DeviceBuffer<T> out(static_cast<int64_t>(host.size()), stream);
  if (!host.empty()) {
    WEAKSUP_CUDA_CHECK(
        cudaMemcpyAsync(out.get(), host.data(), sizeof(T) * host.size(), cudaMemcpyHostToDevice, stream));
  }
  return out;
}

// Copies n values back to the host, waiting for the stream (so for all work before it).
template <class T>
std::vector<T> download(const T* device, int64_t n, cudaStream_t stream) {
  std::vector<T> out(static_cast<size_t>(n));
  if (n > 0) {
    WEAKSUP_CUDA_CHECK(cudaMemcpyAsync(out.data(), device, sizeof(T) * n, cudaMemcpyDeviceToHost, stream));
  }
  WEAKSUP_CUDA_CHECK(cudaStreamSynchronize(stream));
  return out;
}

// ---- atomics on fixed-width types (CUDA declares them for (unsigned) long long) ----

__device__ inline void atomic_add(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));  // two's complement
}
__device__ inline void atomic_min(int64_t* p, int64_t v) { atomicMin(reinterpret_cast<long long*>(p), v); }
__device__ inline void atomic_max(int64_t* p, int64_t v) { atomicMax(reinterpret_cast<long long*>(p), v); }
__device__ inline void atomic_max(uint64_t* p, uint64_t v) { atomicMax(reinterpret_cast<unsigned long long*>(p), v); }
__device__ inline void atomic_min(uint64_t* p, uint64_t v) { atomicMin(reinterpret_cast<unsigned long long*>(p), v); }
__device__ inline void atomic_min(uint32_t* p, uint32_t v) { atomicMin(p, v); }
__device__ inline void atomic_max(uint32_t* p, uint32_t v) { atomicMax(p, v); }

// Reads a value other threads may be changing (never cached in a register).
template <class T>
__device__ inline T load_volatile(const T* p) {
  return *static_cast<const volatile T*>(p);
}

// ---- floating-point bits ----

template <class T>
__host__ __device__ inline Bits<T> bits_of(T v) {
  Bits<T> u;
  memcpy(&u, &v, sizeof u);
  return u;
}

// Infinities and NaNs are the values with every exponent bit set.
template <class T>
__host__ __device__ inline bool is_finite(T v) {
  constexpr int mantissa_bits = sizeof(T) == 4 ? 23 : 52;
  constexpr Bits<T> exponent = ((Bits<T>{1} << (8 * sizeof(T) - 1 - mantissa_bits)) - 1) << mantissa_bits;
  return (bits_of(v) & exponent) != exponent;
}

// ---- per-map reductions ----

// Reductions over maps of `pixels` values use per_map = threads_per_map(pixels)
// threads per map: thread t takes every per_map-th pixel of map t / per_map, starting
// at t % per_map (coalesced reads), and reduces them before one atomic update, so a
// map sees about pixels / kPixelsPerThread atomics.
constexpr int64_t kPixelsPerThread = 64;

inline int64_t threads_per_map(int64_t pixels) {
  return std::max<int64_t>(1, (pixels + kPixelsPerThread - 1) / kPixelsPerThread);
}

// ---- union-find labeling of pixel grids ----
//
// parent[] holds image-local pixel indices. A set's root is its smallest index:
// parents only ever point to smaller indices, so once labeling ends each root is its
// component's first pixel in raster order, the order the CPU numbers components in.

// Root of i, halving the path on the way. A non-root never becomes a root again and
// gets only ancestors (smaller indices in its own set) as parents, so concurrent
// halving and hooking cannot split a set or form a cycle.
__device__ inline int32_t find_root(int32_t* parent, int32_t i) {
  for (;;) {
    const int32_t p = load_volatile(parent + i);
    if (p == i) return i;
    const int32_t grandparent = load_volatile(parent + p);
    if (grandparent != p) *static_cast<volatile int32_t*>(parent + i) = grandparent;
    i = grandparent;
  }
}

// Merges the sets of a and b by hooking the larger root under the smaller one; the
// compare-and-swap fails when another thread hooked that root first, and we retry
// from the new roots.
__device__ inline void unite(int32_t* parent, int32_t a, int32_t b) {
  for (;;) {
    a = find_root(parent, a);
    b = find_root(parent, b);
    if (a == b) return;
    if (a > b) {
      const int32_t t = a;
      a = b;
      b = t;
    }
    if (atomicCAS(parent + b, b, a) == b) return;
  }
}

// The labeling kernels get internal linkage: each .cu file compiles its own copy.
namespace {

// parent[i] = i for every pixel of `images` images.
__global__ void init_parents(int32_t* parent, int64_t images, int64_t pixels) {
  for (int64_t g = first_index(); g < images * pixels; g += index_stride()) {
    parent[g] = static_cast<int32_t>(g % pixels);
  }
}

// Joins every pixel to its earlier neighbours of the same kind. A pixel is foreground
// when is_fg(image, i) is true; foreground and background pixels are joined with their
// own connectivity: 8, 4, or 0 to leave that kind unlabelled (each pixel its own set).
// Diagonal neighbours are skipped when a shared neighbour of the same kind already
// links them (the usual 8-connectivity shortcut).
template <class IsFg>
__global__ void unite_neighbours(IsFg is_fg, int32_t* parent, int64_t images, int64_t height, int64_t width,
                                 int fg_connectivity, int bg_connectivity) {
  const int64_t pixels = height * width;
  const int32_t w = static_cast<int32_t>(width);
  for (int64_t g = first_index(); g < images * pixels; g += index_stride()) {
    const int64_t image = g / pixels;
    const int32_t i = static_cast<int32_t>(g - image * pixels);
    const int32_t x = i % w;
    const bool fg = is_fg(image, i);
    const int connectivity = fg ? fg_connectivity : bg_connectivity;
    if (connectivity == 0) continue;
    int32_t* p = parent + image * pixels;
    auto same = [&](int32_t j) { return is_fg(image, j) == fg; };
    const bool left = x > 0 && same(i - 1);
    if (left) unite(p, i, i - 1);
    if (i < w) continue;  // first row
    const int32_t up = i - w;
    if (same(up)) {
      unite(p, i, up);  // up-left and up-right, if alike, are joined to `up` already
      continue;
    }
    if (connectivity == 8) {
      if (x > 0 && !left && same(up - 1)) unite(p, i, up - 1);  // with `left`, via left's up
      if (x + 1 < w && same(up + 1)) unite(p, i, up + 1);
    }
  }
}

// parent[i] = root of i for every pixel (run after all unions have finished).
__global__ void flatten_parents(int32_t* parent, int64_t images, int64_t pixels) {
  for (int64_t g = first_index(); g < images * pixels; g += index_stride()) {
    const int64_t image = g / pixels;
    int32_t* p = parent + image * pixels;
    const int32_t i = static_cast<int32_t>(g - image * pixels);
    p[i] = find_root(p, i);
  }
}

// Labels `images` grids in place: afterwards parent[i] is the root of pixel i, or i
// itself for pixels of a kind with connectivity 0.
template <class IsFg>
void label_grid(IsFg is_fg, int32_t* parent, int64_t images, int64_t height, int64_t width, int fg_connectivity,
                int bg_connectivity, cudaStream_t stream) {
  const int64_t pixels = height * width;
  launch(init_parents, images * pixels, stream, parent, images, pixels);
  launch(unite_neighbours<IsFg>, images * pixels, stream, is_fg, parent, images, height, width, fg_connectivity,
         bg_connectivity);
  launch(flatten_parents, images * pixels, stream, parent, images, pixels);
}

}  // namespace

// ---- per-component sums over row segments ----
//
// Sums over the pixels of a component are taken per segment: a stretch of one row
// whose pixels share the same key (label or root), cut every kSegment columns. The
// thread of a segment's first pixel adds it up and makes one atomic update; the other
// threads return at once. That bounds both the work per thread and the atomics.
constexpr int32_t kSegment = 32;

// If column x of `row` starts a segment, returns its end (exclusive); otherwise -1.
template <class Key>
__device__ inline int32_t segment_end(const Key* row, int32_t x, int32_t width) {
  const Key key = row[x];
  if (x % kSegment != 0 && row[x - 1] == key) return -1;
  const int32_t stop = std::min(width, x - x % kSegment + kSegment);
  int32_t end = x + 1;
  while (end < stop && row[end] == key) ++end;
  return end;
}

}  // namespace gpu
}  // namespace weaksup
