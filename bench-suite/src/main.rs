//! `evloop-bench report`: see `docs/benchmarks.md`; `evloop-bench lab`: see `docs/labs/`.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use evloop_bench::report::cli::{Cli, Command};
use evloop_bench::report::{self, markdown, sections};

mod labs;

fn main() -> ExitCode {
    // Process-pool workers are this executable started again: they stop here and serve jobs.
    evloop_bridge::process::init(evloop_bench::workloads::procs::registry);
    let matches = Cli::command().subcommand(labs::command()).get_matches();
    if let Some(("lab", lab)) = matches.subcommand() {
        return labs::main(lab);
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Report(args) => match report::run(&args) {
            Ok(rep) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&rep).expect("serializes")
                    );
                } else {
                    print!("{}", markdown::summary_text(&rep));
                    println!("report written to {}", args.out.join("REPORT.md").display());
                }
                if report::children::interrupted() {
                    ExitCode::from(130)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::MemoryChild { unit, count, stack } => {
            exit_with(sections::memory::child(&unit, count, stack))
        }
        Command::PipeEcho => exit_with(
            evloop_bench::workloads::floors::pipe_echo().map(|cpu| cpu.as_nanos().to_string()),
        ),
        Command::EchoClients {
            addr,
            conns,
            seconds,
            block_at_ms,
        } => exit_with(sections::threads::clients_child(
            &addr,
            conns,
            seconds,
            block_at_ms,
        )),
        Command::LoopsServer { runtime } => exit_with(sections::loops::server_child(&runtime)),
        Command::ScaleServer {
            kind,
            ports,
            max_threads,
        } => exit_with(
            sections::scale::server::server_child(&kind, ports, max_threads)
                .map(|()| String::new()),
        ),
        Command::ScaleClients {
            addrs,
            conns,
            period_ms,
            seconds,
        } => {
            let parsed: Result<Vec<std::net::SocketAddr>, _> =
                addrs.split(',').map(str::parse).collect();
            match parsed {
                Ok(addrs) => exit_with(
                    sections::scale::clients::clients_child(
                        &addrs,
                        conns,
                        std::time::Duration::from_millis(period_ms),
                        seconds,
                    )
                    .map(|()| String::new()),
                ),
                Err(e) => {
                    eprintln!("error: --addrs {addrs}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Prints a child's result on stdout, or its error on stderr with a failing status.
fn exit_with(result: std::io::Result<String>) -> ExitCode {
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
