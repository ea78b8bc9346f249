//! `platc`: parse the arguments, run the command, exit with its code.

mod cli;

use clap::Parser;

/// Most of a build is many small allocations on every core (template
/// contexts, rendered text, documents); mimalloc's per-thread heaps make them
/// markedly cheaper than glibc's malloc (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(cli::run(cli::Cli::parse()))
}
