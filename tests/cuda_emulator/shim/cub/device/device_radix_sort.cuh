// Host stand-in for the one CUB radix sort cuda/crf.cu makes (see ../../cuda_runtime.h).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

namespace cub {

struct DeviceRadixSort {
  // Sorts (key, value) pairs by the bits [begin_bit, end_bit) of the keys, stably (as
  // CUB's radix sort). Like CUB, a first call with temp == nullptr only asks for the
  // scratch size.
  template <class K, class V, class N>
  static cudaError_t SortPairs(void* temp, size_t& bytes, const K* keys_in, K* keys_out, const V* values_in,
                               V* values_out, N n, int begin_bit, int end_bit, cudaStream_t) {
    if (!temp) {
      bytes = 8;
      return cudaSuccess;
    }
    const K mask = static_cast<K>(end_bit - begin_bit >= static_cast<int>(8 * sizeof(K))
                                      ? ~K{0}
                                      : ((K{1} << (end_bit - begin_bit)) - 1) << begin_bit);
    std::vector<size_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return (keys_in[a] & mask) < (keys_in[b] & mask); });
    std::vector<K> keys(order.size());
    std::vector<V> values(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      keys[i] = keys_in[order[i]];
      values[i] = values_in[order[i]];
    }
    std::copy(keys.begin(), keys.end(), keys_out);
    std::copy(values.begin(), values.end(), values_out);
    return cudaSuccess;
  }
};

}  // namespace cub
