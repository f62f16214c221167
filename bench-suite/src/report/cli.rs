//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Measurements of evloop against tokio, smol and Python's asyncio.
#[derive(Debug, Parser)]
#[command(name = "evloop-bench", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the experiments, print a summary, and write REPORT.md, SVG plots and report.json.
    Report(ReportArgs),
    /// Memory of sleeping tasks or parked threads, measured in a fresh process (internal).
    #[command(hide = true)]
    MemoryChild {
        /// `evloop`, `tokio`, `smol` or `threads`.
        #[arg(long)]
        unit: String,
        /// How many tasks or threads.
        #[arg(long)]
        count: usize,
        /// Thread stack size in bytes (threads only; Rust's default if absent).
        #[arg(long)]
        stack: Option<usize>,
    },
    /// Echo every byte of stdin to stdout (internal: the pipe floor's other process).
    #[command(hide = true)]
    PipeEcho,
    /// Echo clients against a server (internal: section "threads").
    #[command(hide = true)]
    EchoClients {
        /// The server's address.
        #[arg(long)]
        addr: String,
        /// Concurrent connections.
        #[arg(long)]
        conns: usize,
        /// Seconds of round trips once every connection is open.
        #[arg(long)]
        seconds: f64,
        /// Send the blocking trigger on one connection this many milliseconds into the run.
        #[arg(long)]
        block_at_ms: Option<u64>,
    },
    /// An HTTP server reporting its CPU time on request (internal: section "loops").
    #[command(hide = true)]
    LoopsServer {
        /// `evloop`, `evloop2`, `evloop2-handoff`, `tokio-mt2`, `tokio-2ct` or `smol2`.
        #[arg(long)]
        runtime: String,
    },
    /// A server holding a point of the scale curve (internal: section "scale").
    #[command(hide = true)]
    ScaleServer {
        /// `evloop`, `tokio`, `smol`, `threads` or `threads-small`.
        #[arg(long)]
        kind: String,
        /// Listening ports.
        #[arg(long)]
        ports: usize,
        /// The most connection threads (thread servers only).
        #[arg(long)]
        max_threads: usize,
    },
    /// Clients of a point of the scale curve (internal: section "scale").
    #[command(hide = true)]
    ScaleClients {
        /// The server's addresses, comma-separated.
        #[arg(long)]
        addrs: String,
        /// Connections to hold.
        #[arg(long)]
        conns: usize,
        /// Milliseconds between two messages of a connection.
        #[arg(long)]
        period_ms: u64,
        /// Seconds of traffic once every connection is open.
        #[arg(long)]
        seconds: f64,
    },
}

/// Options of `report`.
#[derive(Debug, Clone, Parser)]
pub struct ReportArgs {
    /// Small sizes: under a minute in release, a smoke test in debug.
    #[arg(long)]
    pub quick: bool,
    /// Run only this section: memory, offload, yield, threads, peers, overhead, loops or scale.
    #[arg(long, value_name = "SECTION")]
    pub only: Option<String>,
    /// Directory for REPORT.md, the plots and report.json.
    #[arg(long, value_name = "DIR", default_value = "target/evloop-report")]
    pub out: PathBuf,
    /// Print report.json on stdout instead of the summary table.
    #[arg(long)]
    pub json: bool,
    /// Also run the scale curve: tens of thousands of connections on one thread, up to the
    /// descriptor limit (minutes; it prints its estimate of time and memory first).
    #[arg(long)]
    pub scale: bool,
}
