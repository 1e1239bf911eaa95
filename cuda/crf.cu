// Dense-CRF mean-field for a batch of images: cpp/dense_crf.hpp's dense_crf_images on
// the GPU, with the permutohedral lattice of cpp/permutohedral.hpp.
//
// All images run together: a lattice's keys carry their image number, so one hash table
// and one set of vertices serve the whole batch, and every kernel below covers all
// images in one launch. Building a lattice:
//   1. locate_points: each point's simplex (remainder-0 vertex and ranks) and
//      barycentric weights, with densecrf's float arithmetic (no FMA contraction), so
//      points land in the simplices the CPU finds.
//   2. insert_entries: every (point, remainder) entry's vertex key goes into an
//      open-addressing table; a slot ends up holding the smallest entry with its key
//      (compare-and-swap, then atomicMin), whatever order threads run in.
//   3. Vertices are numbered by first entry (a scan over "is first" flags), so the
//      numbering is deterministic and each image's vertices form one range.
//   4. A stable radix sort of the entries by vertex gives each vertex its entries in
//      entry (= point) order: the splat is then a gather that sums them in that order.
//   5. Blur neighbours are looked up in the table once.
// Filtering then splats (one thread per vertex and label), blurs (one launch per lattice
// axis, weights 0.5, 1, 0.5; a missing neighbour counts as 0) and slices (one thread
// per point and label, weight * alpha with the normalization folded in). No float is
// ever accumulated with atomics, so results are the same bits on every run.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <cmath>
#include <limits>
#include <memory>

#include "common.cuh"
#include "kernels.hpp"
#include "lattice_keys.hpp"

namespace weaksup {
namespace gpu {

namespace {

constexpr int kMaxDims = 16;  // feature dimensions (spatial axes + channels) per lattice

// Float operations nvcc must not fuse into FMAs (the CPU rounds each one).
#ifdef WEAKSUP_CUDA_EMULATION
inline float add_rn(float a, float b) { return a + b; }
inline float sub_rn(float a, float b) { return a - b; }
inline float mul_rn(float a, float b) { return a * b; }
#else
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
#endif

// How the points of one lattice get their features: coordinates (fastest axis first)
// divided by their sigmas, then (bilateral) channels divided by their colour sigmas.
struct FeatureSpec {
  const float* images;  // (batch, points, channels)
  int channels;
  int axes, d;
  int64_t points;  // per image
  int64_t padded;  // per image, with densecrf's extra origin point when points % 4 != 0
  int64_t extent[kMaxDims];  // spatial, fastest axis first
  float sigma[kMaxDims];     // per feature
  float scale[kMaxDims];     // the elevation's diagonal (Simplexer in cpp/permutohedral.cpp)
};

// The located points of one lattice: (batch * padded) points, entry e = point * (d + 1) + r.
struct Points {
  int d;
  int64_t padded;
  const int32_t* rem0;  // (batch * padded, d)
  const uint8_t* rank;  // (batch * padded, d + 1)

  __device__ int64_t image(int64_t e) const { return e / ((d + 1) * padded); }
  // Vertex r of the point's simplex: rem0 plus the canonical vertex r, permuted by rank.
  __device__ void key(int64_t e, int32_t* out) const {
    const int64_t point = e / (d + 1);
    const int r = static_cast<int>(e - point * (d + 1));
    vertex_key(rem0 + point * d, rank + point * (d + 1), d, r, out);
  }
  __device__ bool same(int64_t e, int64_t img, const int32_t* k) const {
    if (image(e) != img) return false;
    int32_t other[kMaxDims];
    key(e, other);
    return same_key(other, k, d);
  }
};

__device__ inline uint64_t hash_key(int64_t image, const int32_t* key, int d) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(image) * 0xD6E8FEB86659FD93ull);
  for (int c = 0; c < d; ++c) h = (h ^ static_cast<uint32_t>(key[c])) * 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 29);
}

constexpr int32_t kEmpty = -1;  // a free table slot (slots never become free again)

// The entry that owns key's slot (the smallest entry with that key), or -1 if absent.
// Only after insert_entries has finished.
__device__ inline int32_t find_entry(const Points& pts, const int32_t* table, int64_t mask, int64_t image,
                                     const int32_t* key) {
  for (int64_t slot = static_cast<int64_t>(hash_key(image, key, pts.d)) & mask;; slot = (slot + 1) & mask) {
    const int32_t e = table[slot];
    if (e == kEmpty || pts.same(e, image, key)) return e;
  }
}

// Step 1, one thread per point: Simplexer::locate of cpp/permutohedral.cpp, operation
// for operation. Features that are not finite or too large for int32 keys set *bad.
__global__ void locate_points(FeatureSpec s, int64_t batch, int32_t* rem0_out, uint8_t* rank_out, float* weight_out,
                              int32_t* bad) {
  const int d = s.d;
  const float down = 1.0f / static_cast<float>(d + 1), up = static_cast<float>(d + 1);
  for (int64_t pt = first_index(); pt < batch * s.padded; pt += index_stride()) {
    const int64_t image = pt / s.padded, i = pt - image * s.padded;
    float f[kMaxDims];
    if (i == s.points) {  // densecrf's padding point, at the origin
      for (int c = 0; c < d; ++c) f[c] = 0.0f;
    } else {
      int64_t rest = i;
      for (int a = 0; a < s.axes; ++a) {
        f[a] = static_cast<float>(rest % s.extent[a]) / s.sigma[a];
        rest /= s.extent[a];
      }
      const float* pixel = s.images + (image * s.points + i) * s.channels;
      for (int c = s.axes; c < d; ++c) f[c] = pixel[c - s.axes] / s.sigma[c];
    }
    float elevated[kMaxDims + 1], rem0[kMaxDims + 1], rank[kMaxDims + 1] = {}, bary[kMaxDims + 2] = {};
    float sm = 0;  // elevate: y = E f
    for (int j = d; j > 0; --j) {
      const float cf = mul_rn(f[j - 1], s.scale[j - 1]);
      elevated[j] = sub_rn(sm, mul_rn(static_cast<float>(j), cf));
      sm = add_rn(sm, cf);
    }
    elevated[0] = sm;
    bool ok = true;  // keys (and their blur neighbours, +-(d + 1)) must fit in int32
    for (int k = 0; k <= d; ++k) ok = ok && fabsf(elevated[k]) < 1e9f;
    if (!ok) {
      atomicMax(bad, 1);
      for (int k = 0; k <= d; ++k) elevated[k] = 0.0f;  // keep going safely; the caller throws
    }
    float sum = 0;  // the closest remainder-0 point, rounding half to even
    for (int k = 0; k <= d; ++k) {
      const float v = rintf(mul_rn(down, elevated[k]));
      rem0[k] = mul_rn(v, up);
      sum = add_rn(sum, v);
    }
    // The simplex: sort order of the differences.
    for (int k = 0; k < d; ++k) {
      const float dk = sub_rn(elevated[k], rem0[k]);
      for (int j = k + 1; j <= d; ++j) {
        const float c = dk < sub_rn(elevated[j], rem0[j]) ? 1.0f : 0.0f;
        rank[k] = add_rn(rank[k], c);
        rank[j] = add_rn(rank[j], sub_rn(1.0f, c));
      }
    }
    for (int k = 0; k <= d; ++k) {  // back onto the plane if the rounding left it
      rank[k] = add_rn(rank[k], sum);
      const float add = rank[k] < 0 ? up : 0.0f, sub = rank[k] >= up ? up : 0.0f;
      rank[k] = add_rn(rank[k], sub_rn(add, sub));
      rem0[k] = add_rn(rem0[k], sub_rn(add, sub));
    }
    for (int k = 0; k <= d; ++k) {  // barycentric coordinates
      const float v = mul_rn(sub_rn(elevated[k], rem0[k]), down);
      const int p = d - static_cast<int>(rank[k]);
      bary[p] = add_rn(bary[p], v);
      bary[p + 1] = sub_rn(bary[p + 1], v);
    }
    bary[0] = add_rn(bary[0], add_rn(1.0f, bary[d + 1]));
    for (int c = 0; c < d; ++c) rem0_out[pt * d + c] = static_cast<int32_t>(rem0[c]);
    for (int k = 0; k <= d; ++k) {
      rank_out[pt * (d + 1) + k] = static_cast<uint8_t>(rank[k]);
      weight_out[pt * (d + 1) + k] = bary[k];
    }
  }
}

// Step 2: every entry's key into the table. A slot is claimed by compare-and-swap; the
// entries sharing its key then lower it to the smallest of them.
__global__ void insert_entries(Points pts, int64_t entries, int32_t* table, int64_t mask) {
  for (int64_t e = first_index(); e < entries; e += index_stride()) {
    int32_t key[kMaxDims];
    pts.key(e, key);
    const int64_t image = pts.image(e);
    for (int64_t slot = static_cast<int64_t>(hash_key(image, key, pts.d)) & mask;; slot = (slot + 1) & mask) {
      int32_t owner = load_volatile(table + slot);
      if (owner == kEmpty) {
        owner = atomicCAS(table + slot, kEmpty, static_cast<int32_t>(e));
        if (owner == kEmpty) break;
      }
      if (pts.same(owner, image, key)) {
        atomicMin(table + slot, static_cast<int32_t>(e));
        break;
      }
    }
  }
}

// Step 3: owner[e] = the first entry with e's key; first[e] = whether that is e itself
// (first[entries] = 0, so that after an exclusive scan it holds the vertex count).
__global__ void find_owners(Points pts, int64_t entries, const int32_t* table, int64_t mask, int32_t* owner,
                            int32_t* first) {
  for (int64_t e = first_index(); e <= entries; e += index_stride()) {
    if (e == entries) {
      first[e] = 0;
      continue;
    }
    int32_t key[kMaxDims];
    pts.key(e, key);
    owner[e] = find_entry(pts, table, mask, pts.image(e), key);
    first[e] = owner[e] == e;
  }
}

// vertex[e] = the vertex of e's key (numbered by first entry: number = scanned flags);
// rep[v] = v's first entry; index[e] = e (the values the radix sort carries along).
__global__ void number_entries(int64_t entries, const int32_t* owner, const int32_t* number, int32_t* vertex,
                               int32_t* rep, int32_t* index) {
  for (int64_t e = first_index(); e < entries; e += index_stride()) {
    const int32_t o = owner[e];
    vertex[e] = number[o];
    if (o == e) rep[number[e]] = static_cast<int32_t>(e);
    index[e] = static_cast<int32_t>(e);
  }
}

// Step 4: start[v] = where v's entries begin among the entries sorted by vertex.
__global__ void find_starts(const uint32_t* sorted, int64_t entries, int32_t m, int32_t* start) {
  for (int64_t i = first_index(); i <= entries; i += index_stride()) {
    if (i == entries) start[m] = static_cast<int32_t>(entries);
    else if (i == 0 || sorted[i] != sorted[i - 1]) start[sorted[i]] = static_cast<int32_t>(i);
  }
}

// Step 5: neighbour[(v * (d + 1) + j) * 2 + {0, 1}] = v's neighbours along lattice axis
// j (lattice_keys.hpp); -1 where the lattice has no such vertex.
__global__ void find_neighbours(Points pts, int32_t m, const int32_t* rep, const int32_t* table, int64_t mask,
                                const int32_t* number, int32_t* neighbour) {
  const int d = pts.d;
  for (int64_t g = first_index(); g < int64_t{m} * (d + 1); g += index_stride()) {
    const int64_t v = g / (d + 1);
    const int j = static_cast<int>(g - v * (d + 1));
    int32_t key[kMaxDims], n1[kMaxDims], n2[kMaxDims];
    pts.key(rep[v], key);
    const int64_t image = pts.image(rep[v]);
    neighbour_keys(key, d, j, n1, n2);
    const int32_t e1 = find_entry(pts, table, mask, image, n1), e2 = find_entry(pts, table, mask, image, n2);
    neighbour[2 * g] = e1 < 0 ? -1 : number[e1];
    neighbour[2 * g + 1] = e2 < 0 ? -1 : number[e2];
  }
}

// ---- filtering ----

// A built lattice, as the filter kernels see it.
struct LatticeView {
  int d;
  int64_t points, padded;   // per image
  int32_t m;                // vertices (all images)
  const int32_t* start;     // (m + 1): v's entries are order[start[v] .. start[v + 1])
  const int32_t* order;     // entries sorted by vertex, in entry order within a vertex
  const int32_t* vertex;    // (entries): each entry's vertex
  const int32_t* neighbour; // (m, d + 1, 2)
};

// values (m, channels) = sum over each vertex's entries, in entry order, of w[e] times
// the entry's point's row of in (points, channels), or times 1 when in is null. The
// padding point has no value.
template <class T>
__global__ void splat(LatticeView lat, const float* w, const T* in, int channels, T* values) {
  for (int64_t g = first_index(); g < int64_t{lat.m} * channels; g += index_stride()) {
    const int64_t v = g / channels;
    const int l = static_cast<int>(g - v * channels);
    T acc = T(0);
    for (int32_t k = lat.start[v]; k < lat.start[v + 1]; ++k) {
      const int64_t e = lat.order[k], point = e / (lat.d + 1);
      const int64_t image = point / lat.padded, i = point - image * lat.padded;
      if (i == lat.points) continue;
      acc += static_cast<T>(w[e]) * (in ? in[(image * lat.points + i) * channels + l] : T(1));
    }
    values[g] = acc;
  }
}

// One blur pass along lattice axis j: out = old + 0.5 (old[n1] + old[n2]).
template <class T>
__global__ void blur(LatticeView lat, int j, int channels, const T* old, T* out) {
  for (int64_t g = first_index(); g < int64_t{lat.m} * channels; g += index_stride()) {
    const int64_t v = g / channels, l = g - v * channels;
    const int32_t n1 = lat.neighbour[(v * (lat.d + 1) + j) * 2], n2 = lat.neighbour[(v * (lat.d + 1) + j) * 2 + 1];
    const T a = n1 < 0 ? T(0) : old[n1 * int64_t{channels} + l];
    const T b = n2 < 0 ? T(0) : old[n2 * int64_t{channels} + l];
    out[g] = old[g] + T(0.5) * (a + b);
  }
}

// out (batch * points, channels) = base (or 0) + sum_r (w[e] * values[vertex[e]]) * scale
// over each point's entries (scale = alpha for the plain filter, as densecrf's
// sequential slice; 1 when alpha is folded into w).
template <class T>
__global__ void slice(LatticeView lat, int64_t batch, const float* w, float scale, const T* values, int channels,
                      const T* base, T* out) {
  const int per = lat.d + 1;
  for (int64_t g = first_index(); g < batch * lat.points * channels; g += index_stride()) {
    const int64_t p = g / channels, l = g - p * channels;
    const int64_t image = p / lat.points, i = p - image * lat.points;
    const int64_t e0 = (image * lat.padded + i) * per;
    T acc = base ? base[g] : T(0);
    for (int r = 0; r < per; ++r) {
      acc += static_cast<T>(w[e0 + r]) * values[lat.vertex[e0 + r] * int64_t{channels} + l] * static_cast<T>(scale);
    }
    out[g] = acc;
  }
}

// The normalization folded into the entry weights (PairwiseKernel in cpp/dense_crf.cpp):
// norm = K 1 per point; splat with w (times 1 / norm' before), slice with w alpha (times
// 1 / norm' after), norm' = norm or sqrt(norm) (symmetric); the slice also carries the
// Potts weight `factor` (1 otherwise).
__global__ void fold_weights(LatticeView lat, int64_t batch, const float* w, const float* norm, int normalization,
                             float alpha, float factor, float* splat_w, float* slice_w) {
  const int per = lat.d + 1;
  const bool before = normalization == 3 || normalization == 1, after = normalization == 3 || normalization == 2;
  for (int64_t e = first_index(); e < batch * lat.padded * per; e += index_stride()) {
    const int64_t point = e / per, image = point / lat.padded, i = point - image * lat.padded;
    if (i == lat.points) {  // the padding point: never splatted or sliced
      splat_w[e] = slice_w[e] = 0.0f;
      continue;
    }
    const double k1 = norm[image * lat.points + i];
    const float scale =
        normalization == 3 ? static_cast<float>(1.0 / sqrt(k1 + 1e-20)) : static_cast<float>(1.0 / (k1 + 1e-20));
    splat_w[e] = before ? w[e] * scale : w[e];
    slice_w[e] = factor * (after ? w[e] * alpha * scale : w[e] * alpha);
  }
}

// ---- mean-field ----

__global__ void negate(const float* in, int64_t n, float* out) {
  for (int64_t i = first_index(); i < n; i += index_stride()) out[i] = -in[i];
}

// q = softmax(energy) per point (densecrf's expAndNormalize).
__global__ void softmax_rows(const float* energy, int64_t n, int labels, float* q) {
  for (int64_t p = first_index(); p < n; p += index_stride()) {
    const float* e = energy + p * labels;
    float* out = q + p * labels;
    float top = e[0];
    for (int l = 1; l < labels; ++l) top = fmaxf(top, e[l]);
    float total = 0.0f;
    for (int l = 0; l < labels; ++l) {
      out[l] = expf(e[l] - top);
      total += out[l];
    }
    for (int l = 0; l < labels; ++l) out[l] /= total;
  }
}

// energy = base - mu(f) for a diagonal (kind 1) or symmetric matrix (kind 2) compatibility.
__global__ void subtract_compat(const float* base, const float* f, const float* w, int kind, int64_t n, int labels,
                                float* energy) {
  for (int64_t g = first_index(); g < n * labels; g += index_stride()) {
    const int64_t p = g / labels;
    const int l = static_cast<int>(g - p * labels);
    float s;
    if (kind == 1) {
      s = w[l] * f[g];
    } else {
      s = 0.0f;
      for (int k = 0; k < labels; ++k) s += w[l * labels + k] * f[p * labels + k];
    }
    energy[g] = base[g] - s;
  }
}

// ---- host side ----

template <class T>
using Buffer = std::unique_ptr<DeviceBuffer<T>>;
template <class T>
Buffer<T> allocate(int64_t n, cudaStream_t stream) {
  return std::make_unique<DeviceBuffer<T>>(n, stream);
}

template <class T>
void exclusive_sum(T* data, int64_t n, cudaStream_t stream) {
  size_t bytes = 0;
  WEAKSUP_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, bytes, data, n, stream));
  DeviceBuffer<uint8_t> temp(static_cast<int64_t>(std::max<size_t>(bytes, 1)), stream);
  WEAKSUP_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp.get(), bytes, data, n, stream));
}

// One pairwise term: its lattice over all images, weights and compatibility.
struct Term {
  LatticeView view{};
  Buffer<int32_t> start, order, vertex, neighbour;
  Buffer<float> splat_w, slice_w, compat;
  int kind = 0;
};

// Builds the term's lattice (steps 1-5 above) and folds in its normalization. Waits for
// the stream once, for the vertex count.
Term build_term(const FeatureSpec& spec, int64_t batch, int normalization, int kind, const std::vector<float>& compat,
                cudaStream_t stream) {
  Term t;
  const int d = spec.d, per = d + 1;
  const int64_t n = batch * spec.padded, entries = n * per;
  if (entries >= std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument("dense_crf: too many points for the GPU lattice; run the batch in parts");
  }
  Buffer<int32_t> rem0 = allocate<int32_t>(n * d, stream);
  Buffer<uint8_t> rank = allocate<uint8_t>(entries, stream);
  Buffer<float> weight = allocate<float>(entries, stream);
  Buffer<int32_t> bad = allocate<int32_t>(1, stream);
  WEAKSUP_CUDA_CHECK(cudaMemsetAsync(bad->get(), 0, sizeof(int32_t), stream));
  launch(locate_points, n, stream, spec, batch, rem0->get(), rank->get(), weight->get(), bad->get());
  const Points pts{d, spec.padded, rem0->get(), rank->get()};

  int64_t size = 16;  // at most half full
  while (size < 2 * entries) size *= 2;
  Buffer<int32_t> table = allocate<int32_t>(size, stream);
  WEAKSUP_CUDA_CHECK(cudaMemsetAsync(table->get(), 0xFF, sizeof(int32_t) * size, stream));  // kEmpty
  launch(insert_entries, entries, stream, pts, entries, table->get(), size - 1);
  Buffer<int32_t> owner = allocate<int32_t>(entries, stream), number = allocate<int32_t>(entries + 1, stream);
  launch(find_owners, entries + 1, stream, pts, entries, table->get(), size - 1, owner->get(), number->get());
  exclusive_sum(number->get(), entries + 1, stream);
  int32_t counts[2];
  WEAKSUP_CUDA_CHECK(cudaMemcpyAsync(&counts[0], number->get() + entries, sizeof(int32_t), cudaMemcpyDeviceToHost,
                                     stream));
  WEAKSUP_CUDA_CHECK(cudaMemcpyAsync(&counts[1], bad->get(), sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
  WEAKSUP_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (counts[1]) {
    throw std::invalid_argument(
        "dense_crf: features (positions / sigma, channels / colour sigma) must be finite and below 1e9 in magnitude");
  }
  const int32_t m = counts[0];

  t.vertex = allocate<int32_t>(entries, stream);
  Buffer<int32_t> rep = allocate<int32_t>(m, stream), index = allocate<int32_t>(entries, stream);
  launch(number_entries, entries, stream, entries, owner->get(), number->get(), t.vertex->get(), rep->get(),
         index->get());

  // Entries by vertex; the sort is stable, so each vertex keeps its entries in order.
  Buffer<uint32_t> sorted = allocate<uint32_t>(entries, stream);
  t.order = allocate<int32_t>(entries, stream);
  int bits = 1;
  while (bits < 32 && (uint32_t{1} << bits) < static_cast<uint32_t>(m)) ++bits;
  const uint32_t* keys = reinterpret_cast<const uint32_t*>(t.vertex->get());  // all >= 0
  size_t bytes = 0;
  WEAKSUP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys, sorted->get(), index->get(),
                                                     t.order->get(), entries, 0, bits, stream));
  {
    DeviceBuffer<uint8_t> temp(static_cast<int64_t>(std::max<size_t>(bytes, 1)), stream);
    WEAKSUP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.get(), bytes, keys, sorted->get(), index->get(),
                                                       t.order->get(), entries, 0, bits, stream));
  }
  t.start = allocate<int32_t>(m + int64_t{1}, stream);
  launch(find_starts, entries + 1, stream, sorted->get(), entries, m, t.start->get());
  t.neighbour = allocate<int32_t>(int64_t{m} * per * 2, stream);
  launch(find_neighbours, int64_t{m} * per, stream, pts, m, rep->get(), table->get(), size - 1, number->get(),
         t.neighbour->get());

  t.view = LatticeView{d, spec.points, spec.padded, m, t.start->get(), t.order->get(), t.vertex->get(),
                       t.neighbour->get()};

  // Normalization: K 1 with the plain weights, blurred in a ping-pong of two buffers.
  const float alpha = 1.0f / (1.0f + std::pow(2.0f, static_cast<float>(-d)));
  Buffer<float> a = allocate<float>(m, stream), b = allocate<float>(m, stream);
  Buffer<float> norm = allocate<float>(batch * spec.points, stream);
  launch(splat<float>, int64_t{m}, stream, t.view, weight->get(), static_cast<const float*>(nullptr), 1, a->get());
  float *old_values = a->get(), *new_values = b->get();
  for (int j = 0; j <= d; ++j) {
    launch(blur<float>, int64_t{m}, stream, t.view, j, 1, static_cast<const float*>(old_values), new_values);
    std::swap(old_values, new_values);
  }
  launch(slice<float>, batch * spec.points, stream, t.view, batch, static_cast<const float*>(weight->get()), alpha,
         static_cast<const float*>(old_values), 1, static_cast<const float*>(nullptr), norm->get());
  t.kind = kind;
  t.splat_w = allocate<float>(entries, stream);
  t.slice_w = allocate<float>(entries, stream);
  launch(fold_weights, entries, stream, t.view, batch, static_cast<const float*>(weight->get()),
         static_cast<const float*>(norm->get()), normalization, alpha, kind == 0 ? compat[0] : 1.0f,
         t.splat_w->get(), t.slice_w->get());
  if (kind != 0) t.compat = std::make_unique<DeviceBuffer<float>>(upload(compat, stream));
  return t;
}

// The compatibility values as the CPU uses them (Compatibility::make): the matrix is
// symmetrized. Checks the kind and the number of values.
std::vector<float> compat_values(const CrfTerm& term, int labels) {
  const size_t want = term.compat_kind == 0 ? 1 : term.compat_kind == 1 ? labels : size_t(labels) * labels;
  if (term.compat_kind < 0 || term.compat_kind > 2) throw std::invalid_argument("dense_crf: unknown compat kind");
  if (term.compat.size() != want) {
    throw std::invalid_argument("dense_crf: compat needs " + std::to_string(want) + " values for kind " +
                                std::to_string(term.compat_kind) + ", got " + std::to_string(term.compat.size()));
  }
  if (term.compat_kind != 2) return term.compat;
  std::vector<float> w(want);
  for (int i = 0; i < labels; ++i) {
    for (int j = 0; j < labels; ++j) {
      w[size_t(i) * labels + j] = 0.5f * (term.compat[size_t(i) * labels + j] + term.compat[size_t(j) * labels + i]);
    }
  }
  return w;
}

// The feature spec of a term, after checking its sigmas.
FeatureSpec feature_spec(const CrfTerm& term, bool bilateral, const float* images, int channels,
                         const std::vector<int64_t>& spatial, int64_t points) {
  const int axes = static_cast<int>(spatial.size());
  const char* name = bilateral ? "dense_crf: bilateral" : "dense_crf: gaussian";
  if (term.sigma.size() != spatial.size()) {
    throw std::invalid_argument(std::string(name) + " term needs one sigma per spatial axis");
  }
  if (bilateral && term.color_sigma.size() != static_cast<size_t>(channels)) {
    throw std::invalid_argument(std::string(name) + " term needs one colour sigma per channel");
  }
  FeatureSpec s{};
  s.images = images;
  s.channels = channels;
  s.axes = axes;
  s.d = axes + (bilateral ? channels : 0);
  if (s.d > kMaxDims) {
    throw std::invalid_argument(std::string(name) + " term has " + std::to_string(s.d) + " feature dimensions; the GPU takes at most " +
                                std::to_string(kMaxDims));
  }
  s.points = points;
  s.padded = points + (points % 4 != 0);
  for (int a = 0; a < axes; ++a) {
    s.extent[a] = spatial[axes - 1 - a];
    s.sigma[a] = term.sigma[a];
  }
  for (int c = 0; c < s.d - axes; ++c) s.sigma[axes + c] = term.color_sigma[c];
  for (int k = 0; k < s.d; ++k) {
    if (!(s.sigma[k] > 0.0f) || !std::isfinite(s.sigma[k])) {
      throw std::invalid_argument(std::string(name) + " term: sigmas must be positive and finite");
    }
  }
  // Expected standard deviation of the filter and the elevation's diagonal, as the CPU.
  const float inv_std_dev = static_cast<float>(std::sqrt(2.0 / 3.0) * (s.d + 1));
  for (int i = 0; i < s.d; ++i) {
    s.scale[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>((i + 2) * (i + 1))) * inv_std_dev);
  }
  return s;
}

}  // namespace

void dense_crf_images(const float* images, int64_t batch, const std::vector<int64_t>& spatial, int channels,
                      const float* unary, int labels, const CrfTerm& gaussian, const CrfTerm& bilateral,
                      int normalization, int iterations, float* q, void* stream_handle) {
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  if (batch < 0 || channels < 0) throw std::invalid_argument("dense_crf: negative batch or channel count");
  if (labels < 1) throw std::invalid_argument("dense_crf: need at least one label");
  if (iterations < 0) throw std::invalid_argument("dense_crf: iterations must be at least 0");
  if (normalization < 0 || normalization > 3) throw std::invalid_argument("dense_crf: normalization must be 0 to 3");
  if (spatial.empty()) throw std::invalid_argument("dense_crf: need at least one spatial axis");
  int64_t points = 1;
  for (int64_t s : spatial) {
    if (s < 0) throw std::invalid_argument("dense_crf: negative spatial extent");
    points *= s;
  }
  std::vector<std::pair<FeatureSpec, std::vector<float>>> specs;  // checked before any work
  std::vector<int> kinds;
  for (const CrfTerm* term : {&gaussian, &bilateral}) {
    if (!term->enabled) continue;
    specs.emplace_back(feature_spec(*term, term == &bilateral, images, channels, spatial, points),
                       compat_values(*term, labels));
    kinds.push_back(term->compat_kind);
  }
  if (batch == 0 || points == 0) return;
  const int64_t n = batch * points, values = n * labels;

  std::vector<Term> terms;  // Gaussian first, as densecrf users add them
  for (size_t k = 0; k < specs.size(); ++k) {
    terms.push_back(build_term(specs[k].first, batch, normalization, kinds[k], specs[k].second, stream));
  }
  int64_t most = 1;  // vertex rows of the largest lattice
  for (const Term& t : terms) most = std::max<int64_t>(most, t.view.m);

  Buffer<float> minus_unary = allocate<float>(values, stream), energy = allocate<float>(values, stream);
  bool all_potts = true;
  for (const Term& t : terms) all_potts = all_potts && t.kind == 0;
  Buffer<float> filtered = allocate<float>(all_potts ? 0 : values, stream);  // K q of non-Potts terms
  Buffer<float> a = allocate<float>(most * labels, stream), b = allocate<float>(most * labels, stream);
  launch(negate, values, stream, unary, values, minus_unary->get());
  launch(softmax_rows, n, stream, static_cast<const float*>(minus_unary->get()), n, labels, q);
  for (int it = 0; it < iterations; ++it) {
    // energy = -unary - sum_k mu_k(K_k q): a Potts term's weight is in its slice
    // weights, so its slice adds straight onto the energy.
    const float* base = minus_unary->get();
    for (const Term& t : terms) {
      launch(splat<float>, int64_t{t.view.m} * labels, stream, t.view, static_cast<const float*>(t.splat_w->get()),
             static_cast<const float*>(q), labels, a->get());
      float *old_values = a->get(), *new_values = b->get();
      for (int j = 0; j <= t.view.d; ++j) {
        launch(blur<float>, int64_t{t.view.m} * labels, stream, t.view, j, labels, static_cast<const float*>(old_values),
               new_values);
        std::swap(old_values, new_values);
      }
      const float* sliced_values = old_values;
      if (t.kind == 0) {
        launch(slice<float>, values, stream, t.view, batch, static_cast<const float*>(t.slice_w->get()), 1.0f, sliced_values,
               labels, base, energy->get());
      } else {
        launch(slice<float>, values, stream, t.view, batch, static_cast<const float*>(t.slice_w->get()), 1.0f, sliced_values,
               labels, static_cast<const float*>(nullptr), filtered->get());
        launch(subtract_compat, values, stream, base, static_cast<const float*>(filtered->get()),
               static_cast<const float*>(t.compat->get()), t.kind, n, labels, energy->get());
      }
      base = energy->get();
    }
    launch(softmax_rows, n, stream, base, n, labels, q);
  }
}

// ---- LatticeBatch ----

struct LatticeBatch::Impl {
  int64_t batch = 0, points = 0;
  cudaStream_t stream = nullptr;
  std::unique_ptr<Term> term;  // none when there is no point
};

LatticeBatch::LatticeBatch(const float* images, int64_t batch, const std::vector<int64_t>& spatial, int channels,
                           const std::vector<float>& sigma, const std::vector<float>& color_sigma, int normalization,
                           void* stream_handle)
    : impl_(new Impl) {
  std::unique_ptr<Impl> impl(impl_);  // freed if a check below throws
  impl_->stream = static_cast<cudaStream_t>(stream_handle);
  if (batch < 0 || channels < 0) throw std::invalid_argument("lattice: negative batch or channel count");
  if (normalization < 0 || normalization > 3) throw std::invalid_argument("lattice: normalization must be 0 to 3");
  if (spatial.empty()) throw std::invalid_argument("lattice: need at least one spatial axis");
  int64_t points = 1;
  for (int64_t s : spatial) {
    if (s < 0) throw std::invalid_argument("lattice: negative spatial extent");
    points *= s;
  }
  CrfTerm spec;
  spec.enabled = true;
  spec.sigma = sigma;
  spec.color_sigma = color_sigma;
  const bool bilateral = !color_sigma.empty();
  const FeatureSpec features = feature_spec(spec, bilateral, images, channels, spatial, points);
  impl_->batch = batch;
  impl_->points = points;
  if (batch > 0 && points > 0) {
    impl_->term = std::make_unique<Term>(build_term(features, batch, normalization, 0, {1.0f}, impl_->stream));
  }
  impl.release();
}

LatticeBatch::~LatticeBatch() { delete impl_; }

int64_t LatticeBatch::batch() const { return impl_->batch; }
int64_t LatticeBatch::points() const { return impl_->points; }

namespace {

template <class T>
void filter_values(const Term& t, int64_t batch, const T* in, T* out, int channels, bool transpose,
                   cudaStream_t stream) {
  if (channels < 1) throw std::invalid_argument("lattice: need at least one value channel");
  const LatticeView& lat = t.view;
  // (D_a S^T B S D_b)^T = D_b S^T B^T S D_a: the weights trade places, the axes reverse.
  const float* first = transpose ? t.slice_w->get() : t.splat_w->get();
  const float* last = transpose ? t.splat_w->get() : t.slice_w->get();
  Buffer<T> a = allocate<T>(int64_t{lat.m} * channels, stream), b = allocate<T>(int64_t{lat.m} * channels, stream);
  launch(splat<T>, int64_t{lat.m} * channels, stream, lat, first, in, channels, a->get());
  T *old_values = a->get(), *new_values = b->get();
  for (int step = 0; step <= lat.d; ++step) {
    launch(blur<T>, int64_t{lat.m} * channels, stream, lat, transpose ? lat.d - step : step, channels,
           static_cast<const T*>(old_values), new_values);
    std::swap(old_values, new_values);
  }
  launch(slice<T>, batch * lat.points * channels, stream, lat, batch, last, 1.0f, static_cast<const T*>(old_values),
         channels, static_cast<const T*>(nullptr), out);
}

}  // namespace

void LatticeBatch::filter(const float* in, float* out, int value_channels, bool transpose) const {
  if (impl_->term) filter_values(*impl_->term, impl_->batch, in, out, value_channels, transpose, impl_->stream);
}

void LatticeBatch::filter(const double* in, double* out, int value_channels, bool transpose) const {
  if (impl_->term) filter_values(*impl_->term, impl_->batch, in, out, value_channels, transpose, impl_->stream);
}

}  // namespace gpu
}  // namespace weaksup
