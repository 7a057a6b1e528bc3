// Thin system-library module: OpenBLAS CBLAS (Debian libopenblas-dev). Linked as "openblas" because
// libblas.so.3 lacks openblas_set_num_threads.
#include <cblas.h>
