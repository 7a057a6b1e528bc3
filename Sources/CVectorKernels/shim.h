// Header-only kernels, one header per purpose: the NN engine's im2col row copies and direct "same" convolutions
// (AviaryMath's `VectorKernels`), secure aggregation's stochastic rounding, its eight-lane
// generator and mask addition (AviarySecAgg's `FixedPointQuantiser`, AviaryMath's `RandomLanes`,
// AviarySecAgg's `MaskExpansion`) and the server's weighted sum with norms (AviaryMerge's
// `WeightedSumKernel`). Swift
// compiles for baseline x86-64 (SSE2), where an image row of 7–32 floats takes several moves and a
// scalar tail; these functions carry their own target attributes, so one AVX-512 or AVX2 masked
// move copies a row. The caller picks the variant the CPU runs (aviary_x86_vector_level in
// COpenBLAS's shim); nothing here checks.
//
// rows.h: im2col row copies; convolution.h: direct convolutions; secagg.h: SecAgg's rounding,
// lanes and mask addition; merge.h: the server's weighted sum. SwiftPM does not notice when only
// a header here changes: touch a Swift file that imports CVectorKernels, or the build keeps the
// old kernel.
#include "rows.h"
#include "convolution.h"
#include "secagg.h"
#include "merge.h"
