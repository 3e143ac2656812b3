//! The `rootvault` binary: parse the command line, run it, print the error once, exit with
//! the code the contract gives it.

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let code = match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rootvault: error: {e}");
            e.exit_code()
        }
    };
    std::process::ExitCode::from(code as u8)
}
