// The per-point (and per-vertex) row kernels of the lattice and the mean-field step, in two builds: the baseline one
// (simd.hpp, 4 floats at a time) and, on x86-64 CPUs with AVX2 and FMA, one 8 floats
// wide (crf_rows_avx2.cpp, compiled for that target and only called after a CPU check).
#pragma once

#include <cstdint>

namespace weaksup {

// e / per for every entry e < 2^31, without a division (Granlund & Montgomery: the
// multiplier ceil(2^(31 + l) / per), 2^l >= per, is below 2^32, so e times it fits).
struct EntryDivider {
  uint64_t multiplier;
  int shift;
  explicit EntryDivider(int per) : shift(31) {
    while ((int64_t{1} << (shift - 31)) < per) ++shift;
    multiplier = ((uint64_t{1} << shift) + static_cast<uint64_t>(per) - 1) / static_cast<uint64_t>(per);
  }
  int64_t operator()(int32_t e) const {
    return static_cast<int64_t>((static_cast<uint64_t>(e) * multiplier) >> shift);
  }
};

struct RowKernels {
  // row (stride floats) += scale * sum_r weight[r] * values[vertex[r] * stride ...], r < per.
  void (*slice_add)(float* row, const float* values, const int32_t* vertex, const float* weight, int per,
                    int64_t stride, float scale);
  // q = softmax(e) over `labels` values of a padded row (padding lanes of q become 0),
  // shifted by the largest of those values, so any finite energies work. Returns false
  // when an energy is NaN or infinite (it overflowed float32): q is not a distribution.
  // `stream`: q is 16-byte aligned and may be written around the cache.
  bool (*exp_normalize)(const float* e, int labels, int64_t stride, float* q, bool stream);
  // dst (stride floats) = sum over the `count` entries e of w * in[p * stride ...], the
  // entry's point p = point_of(e) (e / per), w = weight[e] * point_scale[p] (weight[e]
  // without point_scale).
  void (*splat_slot)(float* dst, const float* in, const int32_t* entries, int32_t count, const float* weight,
                     const float* point_scale, EntryDivider point_of, int64_t stride);
  // dst (stride floats) = -src (energies) or log(min(max(src, clip), 1)) (probabilities)
  // over `labels` values, padding lanes = pad. Returns 0, or 1 if a value is NaN or
  // infinite, or 2 if a probability is negative.
  int (*minus_unary)(const float* src, int labels, bool probabilities, float clip, float pad, float* dst,
                     int64_t stride);
  // One blur pass along a lattice axis for vertices [first, last): dst[v] = src[v] +
  // 0.5 (src[n1] + src[n2]), n1, n2 = neighbour[(v * per + axis) * 2 ...] (rows of stride).
  void (*blur_axis)(const float* src, float* dst, const int32_t* neighbour, int per, int axis, int64_t first,
                    int64_t last, int64_t stride);
  // The kernels take rows whose stride is a multiple of this.
  int64_t stride_multiple;
};

// The best kernels for rows of `stride` floats (a multiple of 4) on this CPU.
const RowKernels& row_kernels(int64_t stride);

// The 8-wide kernels, or false where the build or the CPU lacks AVX2 + FMA.
bool avx2_row_kernels(RowKernels* out);

}  // namespace weaksup
