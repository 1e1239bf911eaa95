// CAM -> box: per-map normalization, threshold, labeling, box of the largest component.
#pragma once
#include <cstdint>

namespace weaksup {

// How a map's values are compared with the threshold t:
//   MinMax: (v - min) / (max - min) > t   (a constant map has no foreground)
//   Max:    v / max > t                   (a map with max <= 0 has no foreground)
//   None:   v > t
// Each comparison is made in float64, as NumPy would compute it.
enum class CamNormalization { None = 0, Max = 1, MinMax = 2 };

// boxes: (batch, 4) as x0, y0, x1, y1 inclusive; an empty map gets -1, -1, -1, -1.
// The largest component wins; among equal areas, the first in raster order.
template <class T>
void cam_boxes(const T* cams, int64_t batch, int64_t height, int64_t width, double threshold,
               CamNormalization norm, int connectivity, int64_t* boxes, int threads);

}  // namespace weaksup
