// WEAKSUP_HOST_DEVICE marks helpers that the C++ and the CUDA kernels share: nvcc
// compiles them for host and device, a plain C++ compiler sees ordinary inline functions.
#pragma once

#ifdef __CUDACC__
#define WEAKSUP_HOST_DEVICE __host__ __device__
#else
#define WEAKSUP_HOST_DEVICE
#endif
