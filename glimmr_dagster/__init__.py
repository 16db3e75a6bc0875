"""US hospital price-transparency data as Dagster assets (see README.md)."""

import os

# Polars' allocator (jemalloc) hands freed pages back to the system after 0.5 s by default
# (`import polars` sets dirty_decay_ms:500 and appends $_RJEM_MALLOC_CONF to it). Parsing a price
# file allocates and frees a few hundred MB per batch, so those pages were returned and faulted
# back in over and over: about a tenth of a large CSV's parse went to the kernel. Keeping freed
# pages for 5 s removes most of that, for a peak about a tenth higher. It only takes effect when
# set before polars is first imported in the process (this package's modules import polars after
# this line); a value set by the user is left alone.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:5000")
