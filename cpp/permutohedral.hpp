// The permutohedral lattice (Adams, Baek & Davis 2010) exactly as Krähenbühl's densecrf
// builds and uses it: approximate Gaussian filtering of values attached to n points with
// d-dimensional features (feature = position / sigma), by splatting onto the vertices of
// the enclosing simplices, blurring with weights (0.5, 1, 0.5) along each of the d + 1
// lattice axes, and slicing back with the scale alpha = 1 / (1 + 2^-d).
#pragma once

#include <cstdint>
#include <vector>

#include "simd.hpp"

namespace weaksup {

class Lattice {
 public:
  static constexpr int kMaxDims = 64;  // feature dimensions

  // The largest |feature value| a d-dimensional lattice takes: elevated coordinates stay
  // below 2^22 (at most 2 d (d + 1) / sqrt(3) times it), where float32 still resolves
  // the simplex and the integer keys cannot overflow. Larger values mean a sigma far
  // below the features' spacing; the constructor rejects them.
  static double max_feature(int d) { return 2097152.0 / (static_cast<double>(d) * (d + 1)); }

  // features: (n, d) row-major. Vertex keys are int32 per coordinate, so large images
  // with small sigmas cannot overflow them (densecrf's are int16). `densecrf_padding`
  // adds the vertices densecrf's SSE code adds when n is not a multiple of 4 (see the
  // constructor), so that results match it to float rounding.
  Lattice(const float* features, int64_t n, int d, int threads, bool densecrf_padding = false);

  int64_t points() const { return n_; }
  int dims() const { return d_; }
  int64_t vertices() const { return m_; }

  // out = K in, both (n, padded(channels)) row-major (rows padded to whole F4s, see
  // simd.hpp; padding lanes are filtered like the others); they may be the same array.
  // `reverse` blurs the axes in reverse order (the transposed filter). Deterministic:
  // each vertex sums its points in point order, whatever the thread count.
  // `scratch` holds scratch_size(channels) floats (callers reuse it across calls).
  // Callers may scale by per-point factors (normalizations): point i's values are
  // splatted times splat_scale[i] and sliced times slice_scale[i] (either may be null).
  void filter(const float* in, float* out, int channels, bool reverse, int threads, float* scratch,
              const float* splat_scale = nullptr, const float* slice_scale = nullptr) const;

  // filter() in phases, for callers that fuse several lattices over the same points
  // (mean-field): splat() each block of kPointBlock points (blocks in any order or in
  // parallel), then blur(), which returns the blurred vertex values (m + 1 rows, the
  // last zero); point i then slices sum_r weights()[e] * alpha() * values[entry_vertices()[e]],
  // e = i * (d + 1) + r.
  static constexpr int64_t kPointBlock = 4096;
  int64_t splat_blocks() const;
  void splat(int64_t block, const float* in, int channels, float* scratch, const float* splat_scale) const;
  const float* blur(int channels, bool reverse, int threads, float* scratch) const;
  const int32_t* entry_vertices() const { return vertex_.data(); }
  const std::vector<float>& weights() const { return weight_; }  // (n, d + 1) barycentric
  // Point i also slices self_weights()[i] times its own splatted value (null: none): the
  // vertices only it splats onto and that have no neighbours are left out of the
  // lattice (their entries name the zero vertex m instead).
  const float* self_weights() const { return self_weight_.empty() ? nullptr : self_weight_.data(); }
  float alpha() const;
  int64_t scratch_size(int channels) const;
  // (m, d + 1, 2): each vertex's neighbours n1, n2 along each axis (m = none: the zero vertex).
  const int32_t* neighbours() const { return neighbour_.data(); }

 private:
  int64_t n_ = 0, m_ = 0;
  int d_ = 0;
  std::vector<int32_t> vertex_;       // (n, d + 1): the vertices of each point's simplex
  std::vector<float> weight_;         // (n, d + 1): its barycentric weights
  std::vector<float> self_weight_;    // (n) or empty: see self_weights()
  // Splatting: entry point * (d + 1) + r splats onto vertex_[entry]. Each block of
  // points keeps its entries grouped by vertex in its range of splat_entry_: slot s (a
  // block's vertex) owns splat_entry_[slot_entries_[s].begin .. end) and sums them into
  // scratch row slot_row_[s]: the vertex's value row if no other block splats onto it,
  // else one of its partial rows row_start_[v] .. row_start_[v + 1] (blocks in order),
  // which the vertices in reduce_ sum. Block b's slots are block_slot_start_[b] .. [b + 1].
  struct Range {
    int32_t begin, end;
  };
  std::vector<int32_t> splat_entry_;
  std::vector<int64_t> block_slot_start_;
  std::vector<Range> slot_entries_;
  std::vector<int64_t> slot_row_;
  std::vector<int64_t> row_start_;
  std::vector<int32_t> reduce_;
  std::vector<int32_t> neighbour_;    // (m, d + 1, 2): along each axis; m = none (zero)
};

}  // namespace weaksup
