// The host emulation of the ops (LRPSEG_EMULATE): the same loaders, epilogues and elementwise lambdas run
// as plain loops, and matrix products round their operands as the tensor cores do (TF32, or 3×TF32).
// It lets machines without a GPU run the conformance suites through the real binding and index math.
#include "kernels_impl.h"
