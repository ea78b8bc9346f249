//! `platc`: parse the arguments, run the command, exit with its code.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(cli::run(cli::Cli::parse()))
}
