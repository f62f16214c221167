//! Thread-pool and process-pool `run_in_executor` for evloop (placeholder until the bridge lands).
#![warn(missing_docs)]
