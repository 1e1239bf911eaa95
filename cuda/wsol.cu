// WSOL metrics on the GPU, as cpp/wsol.cpp: score-map quantization and box
// correctness.
//
// box_correct plans on the host, exactly as the CPU does, which (image, distinct cut
// level) pairs to evaluate, then labels chunks of those pairs over the whole image with
// one union-find for both kinds of pixel (foreground 8-connected, background
// 4-connected). From the component roots come every component's box, the holes
// (background components off the border), the component tree and the 2x2-window
// counts behind cv2.contourArea: the quantities cpp/wsol.cpp derives from row segments.
#include <algorithm>
#include <limits>
#include <string>

#include "common.cuh"
#include "exact.hpp"
#include "kernels.hpp"
#include "wsol.hpp"

namespace weaksup {
namespace gpu {

namespace {

// ---- quantization ----

// Per map: the ordered bits of its min and max (when normalizing), and in first_bad
// the smallest map with a non-finite value [0], or (without normalize) with a value
// outside [0, 1] [1], the checks cpp/wsol.cpp makes map by map (write_quantized adds
// [2], the span check).
template <class T>
__global__ void check_maps(const T* maps, int64_t batch, int64_t pixels, int64_t per_map, bool normalize,
                           Bits<T>* lo, Bits<T>* hi, int64_t* first_bad) {
  for (int64_t t = first_index(); t < batch * per_map; t += index_stride()) {
    const int64_t b = t / per_map;
    const T* map = maps + b * pixels;
    Bits<T> min_bits = ~Bits<T>{0}, max_bits = 0;
    bool outside = false;
    for (int64_t i = t % per_map; i < pixels; i += per_map) {
      const T v = map[i];
      if (!is_finite(v)) {
        atomic_min(&first_bad[0], b);
        break;
      }
      if (normalize) {
        const Bits<T> k = to_ordered(v);
        min_bits = k < min_bits ? k : min_bits;
        max_bits = k > max_bits ? k : max_bits;
      } else {
        outside = outside || v < 0 || v > 1;  // keep scanning: non-finite values come first
      }
    }
    if (outside) atomic_min(&first_bad[1], b);
    if (normalize) {
      atomic_min(&lo[b], min_bits);
      atomic_max(&hi[b], max_bits);
    }
  }
}

template <class T>
__global__ void write_quantized(const T* maps, int64_t batch, int64_t pixels, bool normalize, const Bits<T>* lo,
                                const Bits<T>* hi, uint8_t* out, int64_t* first_bad) {
  for (int64_t g = first_index(); g < batch * pixels; g += index_stride()) {
    double v = static_cast<double>(maps[g]);
    if (normalize) {
      const int64_t b = g / pixels;
      const double min = static_cast<double>(from_ordered<T>(lo[b]));
      const double max = static_cast<double>(from_ordered<T>(hi[b]));
      if (!(max > min)) {  // a constant map becomes 0
        out[g] = 0;
        continue;
      }
      if (!is_finite(max - min)) {  // [2]: max - min overflows (cpp/wsol.cpp check_span)
        atomic_min(&first_bad[2], b);
        out[g] = 0;
        continue;
      }
      v = (v - min) / (max - min);
    }
    out[g] = static_cast<uint8_t>(v * 255.0);  // truncation, as numpy's astype(uint8)
  }
}

template <class T>
void quantize(const T* maps, int64_t batch, int64_t pixels, bool normalize, uint8_t* out, cudaStream_t stream) {
  DeviceBuffer<Bits<T>> lo(batch, stream), hi(batch, stream);
  const std::vector<int64_t> none(3, std::numeric_limits<int64_t>::max());
  DeviceBuffer<int64_t> first_bad = upload(none, stream);
  if (normalize) {
    WEAKSUP_CUDA_CHECK(cudaMemsetAsync(lo.get(), 0xFF, sizeof(Bits<T>) * batch, stream));
    WEAKSUP_CUDA_CHECK(cudaMemsetAsync(hi.get(), 0, sizeof(Bits<T>) * batch, stream));
  }
  const int64_t per_map = threads_per_map(pixels);
  launch(check_maps<T>, batch * per_map, stream, maps, batch, pixels, per_map, normalize, lo.get(), hi.get(),
         first_bad.get());
  launch(write_quantized<T>, batch * pixels, stream, maps, batch, pixels, normalize, lo.get(), hi.get(), out,
         first_bad.get());
  // The CPU checks map after map, each for finiteness first: report what it reports.
  const std::vector<int64_t> bad = download(first_bad.get(), 3, stream);
  const int64_t first = std::min({bad[0], bad[1], bad[2]});
  if (first == none[0]) return;
  if (bad[0] == first) {
    throw std::invalid_argument("scoremaps: map " + std::to_string(bad[0]) +
                                " contains NaN or infinity; replace those values before evaluating");
  }
  if (bad[2] == first) {
    throw std::invalid_argument("scoremaps: map " + std::to_string(bad[2]) +
                                " spans more than float64 holds (max - min overflows); scale it down first");
  }
  throw std::invalid_argument("scoremaps: map " + std::to_string(bad[1]) +
                              " has values outside [0, 1]; pass normalize=True to min-max normalize it");
}

// ---- box correctness: the plan ----

// One (image, distinct cut level) pair.
struct LevelPair {
  int64_t image;
  int32_t cut;    // foreground: s >= cut (= level + 1)
  int32_t empty;  // no contour: the protocol's single box [0, 0, 0, 0]
};

struct Plan {
  std::vector<LevelPair> pairs;
  std::vector<int64_t> pair_of;   // b * n_thresholds + t -> pair
  std::vector<int64_t> to_label;  // the pairs that are not empty
};

// The levels, their deduplication and the emptiness rule of cpp/wsol.cpp box_correct
// (its Levels): a level is int(t * max(s)) but at least -1, below which every pixel is
// foreground already; a level at or above the maximum has an empty mask.
Plan plan_levels(const std::vector<uint32_t>& max_s, const std::vector<double>& thresholds, int64_t pixels) {
  Plan plan;
  const int64_t batch = static_cast<int64_t>(max_s.size());
  const int64_t n_thresholds = static_cast<int64_t>(thresholds.size());
  plan.pair_of.resize(static_cast<size_t>(batch * n_thresholds));
  std::vector<int64_t> level(static_cast<size_t>(n_thresholds));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t top = max_s[b];
    for (int64_t t = 0; t < n_thresholds; ++t) {
      level[t] = std::max<int64_t>(-1, static_cast<int64_t>(thresholds[t] * static_cast<double>(top)));
    }
    std::vector<int64_t> distinct = level;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    const int64_t first = static_cast<int64_t>(plan.pairs.size());
    for (const int64_t lev : distinct) {
      const bool empty = pixels == 0 || lev >= top;
      if (!empty) plan.to_label.push_back(static_cast<int64_t>(plan.pairs.size()));
      plan.pairs.push_back({b, empty ? 0 : static_cast<int32_t>(lev + 1), empty});
    }
    for (int64_t t = 0; t < n_thresholds; ++t) {
      plan.pair_of[b * n_thresholds + t] =
          first + (std::lower_bound(distinct.begin(), distinct.end(), level[t]) - distinct.begin());
    }
  }
  return plan;
}

// ---- box correctness: device helpers ----

struct GroundTruth {
  const int64_t* boxes;
  const int64_t* offsets;
  // The best IoU of `box` with the ground-truth boxes of `image` (0 if none).
  __device__ double best_iou(const Box& box, int64_t image) const {
    double top = 0.0;
    for (int64_t g = offsets[image]; g < offsets[image + 1]; ++g) top = std::max(top, box_iou(box, boxes + 4 * g));
    return top;
  }
};

// One pair's labeling. Per pixel: root. Per component, at its root k (its first
// pixel, so its top row is k / width): the box columns and bottom row, and the window
// counts of cpp/wsol.cpp: partial2 (twice the area from windows touching a foreground
// component), up (windows inside every foreground component enclosing it) and below
// (the sum of `up` over its strict descendants in the component tree).
struct Level {
  const uint8_t* s;
  int32_t cut, width, height;
  int32_t* root;
  int32_t* x0;
  int32_t* x1;
  int32_t* y1;
  uint32_t* up;
  uint32_t* partial2;
  uint32_t* below;

  __device__ bool fg(int32_t i) const { return s[i] >= cut; }
  // For background components: touching the border means not a hole.
  __device__ bool border(int32_t k) const {
    return x0[k] == 0 || k < width || x1[k] == width - 1 || y1[k] == height - 1;
  }
  // Parent in the component tree, -1 for none: a foreground component's is the
  // background component left of its first pixel; a hole's the foreground component
  // above its first pixel. Parents come earlier in raster order.
  __device__ int32_t tree_parent(int32_t k) const {
    if (fg(k)) return k % width > 0 ? root[k - 1] : -1;
    return border(k) ? -1 : root[k - width];
  }
  __device__ bool is_hole_of(int32_t bg_root, int32_t fg_root) const {
    return !border(bg_root) && root[bg_root - width] == fg_root;
  }
  // Protocol boxes of the outer contour of component k...
  __device__ Box outer_box(int32_t k) const { return protocol_box(x0[k], k / width, x1[k], y1[k], 0, width, height); }
  // ... and of a hole's contour, through the pixels around the hole.
  __device__ Box hole_box(int32_t k) const { return protocol_box(x0[k], k / width, x1[k], y1[k], 1, width, height); }
};

// Scratch for `count` pairs (pairs[ids[c]]), `pixels` entries per pair and array.
struct LevelChunk {
  const uint8_t* quantized;
  const LevelPair* pairs;
  const int64_t* ids;
  int64_t count, height, width;
  int32_t* root;
  int32_t* x0;
  int32_t* x1;
  int32_t* y1;
  uint32_t* up;
  uint32_t* partial2;
  uint32_t* below;

  __device__ int64_t pixels() const { return height * width; }
  __device__ const LevelPair& pair(int64_t c) const { return pairs[ids[c]]; }
  __device__ Level level(int64_t c) const {
    const int64_t at = c * pixels();
    return {quantized + pair(c).image * pixels(), pair(c).cut, static_cast<int32_t>(width),
            static_cast<int32_t>(height), root + at, x0 + at, x1 + at, y1 + at, up + at, partial2 + at,
            below + at};
  }
};

constexpr int64_t kScratchBytesPerPixel = 4 * sizeof(int32_t) + 3 * sizeof(uint32_t);
// Bounds the pairs labelled at once; tests lower it to run many chunks.
#ifndef WEAKSUP_SCRATCH_BYTES
#define WEAKSUP_SCRATCH_BYTES (int64_t{512} << 20)
#endif
constexpr int64_t kScratchBytes = WEAKSUP_SCRATCH_BYTES;

struct LevelIsFg {
  LevelChunk chunk;
  __device__ bool operator()(int64_t c, int32_t i) const {
    return chunk.quantized[chunk.pair(c).image * chunk.pixels() + i] >= chunk.pair(c).cut;
  }
};

// Sums consecutive atomic adds to the same counter into one.
struct PendingAdd {
  uint32_t* target = nullptr;
  uint32_t amount = 0;
  __device__ void add(uint32_t* to, uint32_t n) {
    if (to != target) {
      flush();
      target = to;
    }
    amount += n;
  }
  __device__ void flush() {
    if (target && amount) atomicAdd(target, amount);
    amount = 0;
  }
};

// ---- box correctness: kernels ----

__global__ void image_maxima(const uint8_t* quantized, int64_t batch, int64_t pixels, int64_t per_map,
                             uint32_t* max_s) {
  for (int64_t t = first_index(); t < batch * per_map; t += index_stride()) {
    const int64_t b = t / per_map;
    uint32_t top = 0;
    for (int64_t i = t % per_map; i < pixels; i += per_map) top = std::max<uint32_t>(top, quantized[b * pixels + i]);
    atomicMax(&max_s[b], top);
  }
}

__global__ void init_pairs(const LevelPair* pairs, int64_t n, GroundTruth gt, uint64_t* best, uint64_t* largest,
                           Box* v1) {
  for (int64_t p = first_index(); p < n; p += index_stride()) {
    const Box none{0, 0, 0, 0};
    v1[p] = none;
    largest[p] = 0;
    best[p] = to_ordered(pairs[p].empty ? gt.best_iou(none, pairs[p].image) : 0.0);
  }
}

__global__ void init_chunk(LevelChunk chunk) {
  for (int64_t g = first_index(); g < chunk.count * chunk.pixels(); g += index_stride()) {
    chunk.x0[g] = std::numeric_limits<int32_t>::max();
    chunk.x1[g] = -1;
    chunk.y1[g] = -1;
    chunk.up[g] = 0;
    chunk.partial2[g] = 0;
    chunk.below[g] = 0;
  }
}

// Boxes of all components, one atomic update per segment.
__global__ void component_boxes(LevelChunk chunk) {
  const int64_t pixels = chunk.pixels();
  const int32_t w = static_cast<int32_t>(chunk.width);
  for (int64_t g = first_index(); g < chunk.count * pixels; g += index_stride()) {
    const Level level = chunk.level(g / pixels);
    const int32_t i = static_cast<int32_t>(g % pixels);
    const int32_t x = i % w;
    const int32_t end = segment_end(level.root + (i - x), x, w);
    if (end < 0) continue;
    const int32_t k = level.root[i];
    atomicMin(&level.x0[k], x);
    atomicMax(&level.x1[k], end - 1);
    atomicMax(&level.y1[k], i / w);
  }
}

// add_windows of cpp/wsol.cpp for every 2x2 window; a thread takes up to kSegment
// consecutive windows of a row.
__global__ void count_windows(LevelChunk chunk) {
  const int32_t w = static_cast<int32_t>(chunk.width);
  const int64_t rows = chunk.height - 1, spans = (w - 1 + kSegment - 1) / kSegment;
  for (int64_t t = first_index(); t < chunk.count * rows * spans; t += index_stride()) {
    const Level level = chunk.level(t / (rows * spans));
    const int32_t y = static_cast<int32_t>(t % (rows * spans) / spans);
    const int32_t begin = static_cast<int32_t>(t % spans) * kSegment;
    const int32_t end = std::min(begin + kSegment, w - 1);
    PendingAdd up, partial2;
    for (int32_t x = begin; x < end; ++x) {
      const int32_t i = y * w + x;
      const int32_t window[4] = {i, i + 1, i + w, i + w + 1};
      int32_t f = -1;  // the foreground component: 2x2 pixels are all 8-adjacent
      for (const int32_t p : window) {
        if (level.fg(p)) f = level.root[p];
      }
      if (f < 0) {  // all background, hence one 4-connected component
        up.add(&level.up[level.root[i]], 1);
        continue;
      }
      int inside = 0;  // pixels of f or of its holes
      for (const int32_t p : window) inside += level.fg(p) || level.is_hole_of(level.root[p], f);
      partial2.add(&level.partial2[f], inside == 4 ? 2 : inside == 3 ? 1 : 0);
      up.add(&level.up[f], 1);
    }
    up.flush();
    partial2.flush();
  }
}

// below[a] = sum of up[k] over the strict descendants k of foreground component a:
// each component adds its count to every foreground ancestor.
__global__ void add_to_ancestors(LevelChunk chunk) {
  const int64_t pixels = chunk.pixels();
  for (int64_t g = first_index(); g < chunk.count * pixels; g += index_stride()) {
    const Level level = chunk.level(g / pixels);
    const int32_t k = static_cast<int32_t>(g % pixels);
    if (level.root[k] != k || level.up[k] == 0) continue;
    for (int32_t a = level.tree_parent(k); a >= 0; a = level.tree_parent(a)) {
      if (level.fg(a)) atomicAdd(&level.below[a], level.up[k]);
    }
  }
}

// V1: the foreground component with the largest contourArea; among equal areas the
// last in raster order (cv2 lists contours last-found first and max() keeps the first).
__global__ void pick_largest(LevelChunk chunk, uint64_t* largest) {
  const int64_t pixels = chunk.pixels();
  for (int64_t g = first_index(); g < chunk.count * pixels; g += index_stride()) {
    const int64_t c = g / pixels;
    const Level level = chunk.level(c);
    const int32_t k = static_cast<int32_t>(g % pixels);
    if (level.root[k] != k || !level.fg(k)) continue;
    // Twice the area is below 2 * windows < 2^32.
    const uint64_t area2 = uint64_t{level.partial2[k]} + 2 * uint64_t{level.below[k]};
    atomic_max(&largest[chunk.ids[c]], area2 << 32 | static_cast<uint32_t>(k));
  }
}

// V2: the best IoU over every contour's box (components and holes).
__global__ void best_contour(LevelChunk chunk, GroundTruth gt, uint64_t* best) {
  const int64_t pixels = chunk.pixels();
  for (int64_t g = first_index(); g < chunk.count * pixels; g += index_stride()) {
    const int64_t c = g / pixels;
    const Level level = chunk.level(c);
    const int32_t k = static_cast<int32_t>(g % pixels);
    if (level.root[k] != k) continue;
    const bool fg = level.fg(k);
    if (!fg && level.border(k)) continue;
    const Box box = fg ? level.outer_box(k) : level.hole_box(k);
    atomic_max(&best[chunk.ids[c]], to_ordered(gt.best_iou(box, chunk.pair(c).image)));  // IoUs are >= 0
  }
}

// The V1 box of each pair of the chunk; without multi_contour, the pair's IoU too.
__global__ void finish_largest(LevelChunk chunk, GroundTruth gt, bool multi_contour, const uint64_t* largest,
                               Box* v1, uint64_t* best) {
  for (int64_t c = first_index(); c < chunk.count; c += index_stride()) {
    const int64_t p = chunk.ids[c];
    const Box box = chunk.level(c).outer_box(static_cast<int32_t>(static_cast<uint32_t>(largest[p])));
    v1[p] = box;
    if (!multi_contour) best[p] = to_ordered(gt.best_iou(box, chunk.pair(c).image));
  }
}

__global__ void write_results(const int64_t* pair_of, int64_t batch, int64_t n_thresholds,
                              const double* iou_thresholds, int64_t n_iou, const uint64_t* best, const Box* v1,
                              uint8_t* correct, int64_t* boxes_v1) {
  for (int64_t g = first_index(); g < batch * n_thresholds; g += index_stride()) {
    const int64_t b = g / n_thresholds, t = g % n_thresholds;
    const int64_t p = pair_of[g];
    const double iou = from_ordered<double>(best[p]);
    for (int64_t d = 0; d < n_iou; ++d) {
      correct[(b * n_iou + d) * n_thresholds + t] = iou >= iou_thresholds[d] / 100.0;
    }
    if (boxes_v1) {
      int64_t* o = boxes_v1 + 4 * g;
      o[0] = v1[p].x0;
      o[1] = v1[p].y0;
      o[2] = v1[p].x1;
      o[3] = v1[p].y1;
    }
  }
}

}  // namespace

void quantize_scoremaps(const void* maps, int dtype, int64_t batch, int64_t pixels, bool normalize, uint8_t* out,
                        void* stream_handle) {
  if (batch <= 0 || pixels <= 0) return;
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  switch (dtype) {
    case kFloat32: quantize(static_cast<const float*>(maps), batch, pixels, normalize, out, stream); break;
    case kFloat64: quantize(static_cast<const double*>(maps), batch, pixels, normalize, out, stream); break;
    default: throw std::invalid_argument("scoremaps: dtype must be float32 or float64");
  }
}

void box_correct(const uint8_t* quantized, int64_t batch, int64_t height, int64_t width, const double* thresholds,
                 int64_t n_thresholds, const int64_t* gt_boxes, const int64_t* gt_offsets,
                 const double* iou_thresholds, int64_t n_iou, bool multi_contour, uint8_t* correct,
                 int64_t* boxes_v1, void* stream_handle) {
  if (batch <= 0 || n_thresholds <= 0) return;
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const int64_t pixels = height * width;

  // The levels depend on each image's maximum: plan on the host, as the CPU does.
  DeviceBuffer<uint32_t> max_s(batch, stream);
  WEAKSUP_CUDA_CHECK(cudaMemsetAsync(max_s.get(), 0, sizeof(uint32_t) * batch, stream));
  const int64_t per_map = threads_per_map(pixels);
  if (pixels > 0) launch(image_maxima, batch * per_map, stream, quantized, batch, pixels, per_map, max_s.get());
  const Plan plan = plan_levels(download(max_s.get(), batch, stream), download(thresholds, n_thresholds, stream),
                                pixels);
  const int64_t n_pairs = static_cast<int64_t>(plan.pairs.size());
  const int64_t n_label = static_cast<int64_t>(plan.to_label.size());
  const DeviceBuffer<LevelPair> pairs = upload(plan.pairs, stream);
  const DeviceBuffer<int64_t> pair_of = upload(plan.pair_of, stream);
  const DeviceBuffer<int64_t> to_label = upload(plan.to_label, stream);

  // Per pair: best IoU (ordered bits), the V1 winner (area2 << 32 | root) and box.
  DeviceBuffer<uint64_t> best(n_pairs, stream), largest(n_pairs, stream);
  DeviceBuffer<Box> v1(n_pairs, stream);
  const GroundTruth gt{gt_boxes, gt_offsets};
  launch(init_pairs, n_pairs, stream, pairs.get(), n_pairs, gt, best.get(), largest.get(), v1.get());

  if (n_label > 0) {
    const bool want_largest = !multi_contour || boxes_v1;
    const int64_t per_chunk = std::clamp<int64_t>(kScratchBytes / (kScratchBytesPerPixel * pixels), 1, n_label);
    DeviceBuffer<int32_t> root(per_chunk * pixels, stream), x0(per_chunk * pixels, stream),
        x1(per_chunk * pixels, stream), y1(per_chunk * pixels, stream);
    DeviceBuffer<uint32_t> up(per_chunk * pixels, stream), partial2(per_chunk * pixels, stream),
        below(per_chunk * pixels, stream);
    for (int64_t start = 0; start < n_label; start += per_chunk) {
      const int64_t count = std::min(per_chunk, n_label - start);
      const LevelChunk chunk{quantized, pairs.get(), to_label.get() + start, count, height,
                             width, root.get(), x0.get(), x1.get(), y1.get(), up.get(),
                             partial2.get(), below.get()};
      launch(init_chunk, count * pixels, stream, chunk);
      label_grid(LevelIsFg{chunk}, chunk.root, count, height, width, 8, 4, stream);
      launch(component_boxes, count * pixels, stream, chunk);
      if (want_largest) {
        const int64_t spans = (width - 1 + kSegment - 1) / kSegment;
        launch(count_windows, count * (height - 1) * spans, stream, chunk);
        launch(add_to_ancestors, count * pixels, stream, chunk);
        launch(pick_largest, count * pixels, stream, chunk, largest.get());
        launch(finish_largest, count, stream, chunk, gt, multi_contour, largest.get(), v1.get(), best.get());
      }
      if (multi_contour) launch(best_contour, count * pixels, stream, chunk, gt, best.get());
    }
  }
  launch(write_results, batch * n_thresholds, stream, pair_of.get(), batch, n_thresholds, iou_thresholds, n_iou,
         best.get(), v1.get(), correct, boxes_v1);
}

}  // namespace gpu
}  // namespace weaksup
