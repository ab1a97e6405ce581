// jemalloc settings for every convpt binary (the tool and the tests), linked as an object so the linker always
// keeps it. Measured on the 2-core VM (README, "Performance notes"): never returning freed pages (decay -1) and
// backing the heap with transparent huge pages avoids re-faulting fresh memory on every training step.
// MALLOC_CONF in the environment still overrides this. (The variable is declared extern "C" by jemalloc.h.)
#include <jemalloc/jemalloc.h>

const char* malloc_conf = "thp:always,metadata_thp:auto,dirty_decay_ms:-1,muzzy_decay_ms:-1";
