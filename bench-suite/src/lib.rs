//! Benchmarks and reports for evloop.
