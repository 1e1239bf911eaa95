// Connected-component labeling of binary images and volumes, with per-component
// statistics accumulated from runs (foreground only).
#pragma once
#include <cstdint>
#include <vector>

namespace weaksup {

// One image or volume: depth 1 for 2-D images. C-contiguous, depth-major.
struct VolumeShape {
  int64_t depth;
  int64_t height;
  int64_t width;
  int64_t size() const { return depth * height * width; }
};

// Supported connectivities: 4 and 8 (2-D, depth must be 1 for them to mean what they
// say), 6, 18 and 26 (3-D).
bool valid_connectivity(int connectivity);

// Statistics of one volume's components; component k (1-based) is entry k - 1.
struct ComponentStats {
  std::vector<int64_t> area;     // pixel count
  std::vector<int64_t> box;      // 6 per component: x0, y0, z0, x1, y1, z1 (inclusive)
  std::vector<double> centroid;  // 3 per component: x, y, z
};

// Labels `batch` independent volumes stored one after another in `mask` (nonzero =
// foreground). Labels are 1..K in raster order of each component's first pixel, 0 for
// background, written to exactly one of labels32 / labels64 (or neither, for stats
// only). counts[b] receives K of volume b; stats (if not null) gets one entry per volume.
void label_volumes(const uint8_t* mask, int64_t batch, VolumeShape shape, int connectivity,
                   int32_t* labels32, int64_t* labels64, int64_t* counts,
                   std::vector<ComponentStats>* stats, int threads);

}  // namespace weaksup
