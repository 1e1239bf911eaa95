// Host stand-in for the CUB scan cuda/components.cu and cuda/crf.cu make (see ../../cuda_runtime.h).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

namespace cub {

struct DeviceScan {
  // In-place exclusive prefix sum. Like CUB, a first call with temp == nullptr only
  // asks for the scratch size; a nonzero size makes the caller allocate it.
  template <class T, class N>
  static cudaError_t ExclusiveSum(void* temp, size_t& bytes, T* data, N n, cudaStream_t) {
    if (!temp) {
      bytes = 8;
      return cudaSuccess;
    }
    T sum = 0;
    for (N i = 0; i < n; ++i) {
      const T v = data[i];
      data[i] = sum;
      sum += v;
    }
    return cudaSuccess;
  }
};

}  // namespace cub
