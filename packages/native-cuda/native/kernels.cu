// The CUDA build of the ops (see kernels_impl.h).
#include "kernels_impl.h"
