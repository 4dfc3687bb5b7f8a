//! orbnet: an inter-satellite optical network emulator.
//!
//! `orbnet plan` shows the emulated world at chosen instants; `orbnet up`
//! runs a scenario with one process per satellite.

mod load;
mod plan;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::load::Source;

#[derive(Parser, Debug)]
#[command(
    name = "orbnet",
    version,
    about = "Inter-satellite optical network emulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the world (links, delays, routes) at chosen instants without starting satellites.
    Plan {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// First instant, seconds after the scenario epoch.
        #[arg(long, default_value_t = 0.0)]
        at: f64,
        /// Last instant, seconds after the epoch (with --step).
        #[arg(long)]
        until: Option<f64>,
        /// Seconds between instants.
        #[arg(long, default_value_t = 60.0)]
        step: f64,
        #[arg(long, value_enum, default_value_t = plan::Format::Table)]
        format: plan::Format,
    },
}

/// How a command failed: bad input (exit 2) or a failed run (exit 1).
#[derive(Debug)]
enum Failure {
    BadInput(String),
    Run(String),
}

impl Failure {
    fn report(&self) -> ExitCode {
        let (msg, code) = match self {
            Failure::BadInput(m) => (m, 2),
            Failure::Run(m) => (m, 1),
        };
        eprintln!("error: {msg}");
        ExitCode::from(code)
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.report(),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Plan {
            scenario,
            at,
            until,
            step,
            format,
        } => {
            let source = Source::from_arg(Some(&scenario));
            let scenario = load::load(&source).map_err(|e| Failure::BadInput(e.to_string()))?;
            let instants = plan::Steps { at, until, step }
                .instants()
                .map_err(Failure::BadInput)?;
            let text = plan::render(&scenario, &instants, format);
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = stdout.write_all(text.as_bytes());
            Ok(())
        }
    }
}
