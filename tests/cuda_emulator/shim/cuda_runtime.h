// A host-only stand-in for the parts of the CUDA runtime that cuda/*.cu use, so the
// kernels compile as plain C++ (with -DWEAKSUP_CUDA_EMULATION, see cuda/common.cuh)
// and can be compared with the CPU kernels on machines without a GPU. Test use only.
//
// emu_launch runs every thread of a grid once, in a shuffled order, spread over
// emu_threads host threads, so kernels that depend on thread order or that race
// without atomics tend to show it. "Device" memory is host memory.
//
// emu_launch_blocks is for kernels that synchronize their blocks (__syncthreads) and
// use dynamic shared memory (emu_dynamic_shared): each block runs on one host thread,
// its threads as fibers (ucontext) that switch at every barrier, in a new shuffled
// order at each one, so a missing barrier shows up as a read of data not yet written.
#pragma once
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
// Each host thread plays one CUDA thread at a time.
inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;

typedef int cudaError_t;
constexpr cudaError_t cudaSuccess = 0;
typedef struct CUstream_st* cudaStream_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };

// ---- memory: live allocations are tracked to catch leaks and double frees ----

inline std::mutex emu_mutex;
inline std::set<void*> emu_live;

inline cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t) {
  *p = std::malloc(n);
  std::memset(*p, 0xA5, n);  // garbage, as on a GPU: reads before writes show up
  std::lock_guard<std::mutex> lock(emu_mutex);
  emu_live.insert(*p);
  return cudaSuccess;
}
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) {
  std::lock_guard<std::mutex> lock(emu_mutex);
  if (!emu_live.erase(p)) std::abort();  // not allocated here, or freed twice
  std::free(p);
  return cudaSuccess;
}
// Launches finish before they return, so every stream operation is synchronous.
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t) {
  std::memcpy(dst, src, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* dst, int value, size_t n, cudaStream_t) {
  std::memset(dst, value, n);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "emulated CUDA error"; }
inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

// Dynamic shared memory per block: tests lower or raise it to exercise both the
// shared-memory and the global-memory paths of a kernel.
inline int emu_shared_limit = 48 * 1024;
enum cudaDeviceAttr { cudaDevAttrMaxSharedMemoryPerBlockOptin };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int) {
  *value = emu_shared_limit;
  return cudaSuccess;
}
template <class Kernel>
cudaError_t cudaFuncSetAttribute(Kernel*, cudaFuncAttribute, int value) {
  return value <= emu_shared_limit ? cudaSuccess : 1;
}

// ---- atomics (sequentially consistent, which is at least as strong as CUDA's) ----

inline int atomicCAS(int* p, int expected, int desired) {
  __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return expected;  // the old value either way
}
template <class T, class U>
T atomicAdd(T* p, U v) {
  return __atomic_fetch_add(p, static_cast<T>(v), __ATOMIC_SEQ_CST);
}
template <class T, class U>
T atomicMin(T* p, U u) {
  const T v = static_cast<T>(u);
  T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (v < old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}
template <class T, class U>
T atomicMax(T* p, U u) {
  const T v = static_cast<T>(u);
  T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (v > old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}

// ---- launches ----

inline int emu_threads = 2;                // host threads per launch
inline std::mt19937_64 emu_rng(12345);     // thread orders
inline int64_t emu_launches = 0;

template <class... Params, class... Args>
void emu_launch(dim3 grid, dim3 block, size_t /*shared_bytes*/, cudaStream_t, void (*kernel)(Params...),
                Args... args) {
  ++emu_launches;
  const int64_t total = int64_t{grid.x} * block.x;  // the kernels use 1-D grids only
  std::vector<int64_t> order(static_cast<size_t>(total));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), emu_rng);
  std::atomic<int64_t> next{0};
  auto work = [&] {
    gridDim = grid;
    blockDim = block;
    for (int64_t n; (n = next++) < total;) {
      blockIdx.x = static_cast<unsigned>(order[n] / block.x);
      threadIdx.x = static_cast<unsigned>(order[n] % block.x);
      kernel(args...);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < emu_threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

// ---- block-synchronized launches ----

// The block a host thread is running, for __syncthreads and emu_dynamic_shared.
struct EmuBlock {
  ucontext_t scheduler;
  std::vector<ucontext_t> fibers;
  std::vector<char> finished;
  std::vector<unsigned char> shared;
  const std::function<void()>* body = nullptr;
  unsigned current = 0;
};
inline thread_local EmuBlock* emu_block = nullptr;

inline void* emu_dynamic_shared() {
  if (!emu_block) std::abort();  // shared memory outside emu_launch_blocks
  return emu_block->shared.data();
}

inline void __syncthreads() {
  EmuBlock* b = emu_block;
  if (!b) std::abort();  // a barrier outside emu_launch_blocks
  swapcontext(&b->fibers[b->current], &b->scheduler);
}

inline void emu_fiber_entry() {
  (*emu_block->body)();
  emu_block->finished[emu_block->current] = 1;
}  // returns to the scheduler (uc_link)

template <class... Params, class... Args>
void emu_launch_blocks(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t, void (*kernel)(Params...),
                       Args... args) {
  ++emu_launches;
  if (shared_bytes > static_cast<size_t>(emu_shared_limit)) std::abort();  // a real launch would fail
  constexpr size_t kStack = 128 * 1024;
  std::vector<int64_t> order(grid.x);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), emu_rng);
  std::vector<uint64_t> seeds(grid.x);
  for (auto& s : seeds) s = emu_rng();
  std::atomic<int64_t> next{0};
  const std::function<void()> body = [&] { kernel(args...); };
  auto work = [&] {
    gridDim = grid;
    blockDim = block;
    EmuBlock b;
    b.body = &body;
    b.fibers.resize(block.x);
    // Fiber stacks, kept for the host thread's later launches (untouched pages cost nothing).
    static thread_local std::vector<std::unique_ptr<char[]>> stacks;
    while (stacks.size() < block.x) stacks.emplace_back(new char[kStack]);
    emu_block = &b;
    for (int64_t n; (n = next++) < static_cast<int64_t>(grid.x);) {
      blockIdx.x = static_cast<unsigned>(order[n]);
      std::mt19937_64 rng(seeds[order[n]]);
      b.shared.assign(shared_bytes, 0xA5);  // garbage, as on a GPU
      b.finished.assign(block.x, 0);
      for (unsigned t = 0; t < block.x; ++t) {
        getcontext(&b.fibers[t]);
        b.fibers[t].uc_stack.ss_sp = stacks[t].get();
        b.fibers[t].uc_stack.ss_size = kStack;
        b.fibers[t].uc_link = &b.scheduler;
        makecontext(&b.fibers[t], emu_fiber_entry, 0);
      }
      // Rounds: every live thread runs up to its next barrier (or its end). A barrier
      // that some threads of the block skip is undefined behaviour in CUDA: abort.
      std::vector<unsigned> live(block.x);
      std::iota(live.begin(), live.end(), 0u);
      while (!live.empty()) {
        std::shuffle(live.begin(), live.end(), rng);
        for (unsigned t : live) {
          b.current = t;
          threadIdx.x = t;
          swapcontext(&b.scheduler, &b.fibers[t]);
        }
        size_t done = 0;
        for (unsigned t : live) done += b.finished[t];
        if (done != 0 && done != live.size()) std::abort();  // divergent __syncthreads
        if (done == live.size()) live.clear();
      }
    }
    emu_block = nullptr;
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < emu_threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}
