// The permutohedral lattice's integer geometry, written once for the C++ and the CUDA
// lattices (cpp/permutohedral.cpp, cuda/crf.cu) so that both find the same vertices.
// A vertex key holds d int32 coordinates (the (d+1)-th is implied).
#pragma once

#include <cstdint>

#include "host_device.hpp"

namespace weaksup {

// Vertex r of a point's simplex: its remainder-0 vertex rem0 (d coordinates) plus the
// canonical simplex's vertex r, permuted by the rank of each coordinate.
template <class Rank>
WEAKSUP_HOST_DEVICE inline void vertex_key(const int32_t* rem0, const Rank* rank, int d, int r, int32_t* key) {
  for (int c = 0; c < d; ++c) key[c] = rem0[c] + (rank[c] <= d - r ? r : r - (d + 1));
}

// A vertex's blur neighbours along lattice axis j: the key minus one everywhere except
// + d at j (n1), and plus one except - d at j (n2); axis d shifts every stored coordinate.
WEAKSUP_HOST_DEVICE inline void neighbour_keys(const int32_t* key, int d, int j, int32_t* n1, int32_t* n2) {
  for (int c = 0; c < d; ++c) {
    n1[c] = key[c] - 1;
    n2[c] = key[c] + 1;
  }
  if (j < d) {
    n1[j] = key[j] + d;
    n2[j] = key[j] - d;
  }
}

WEAKSUP_HOST_DEVICE inline bool same_key(const int32_t* a, const int32_t* b, int d) {
  for (int c = 0; c < d; ++c) {
    if (a[c] != b[c]) return false;
  }
  return true;
}

}  // namespace weaksup
