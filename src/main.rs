//! The `greenlight` binary: parse the command line, then run a headless verb or open the
//! desktop app.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = greenlight::cli::Cli::parse();
    match cli.verb {
        Some(verb) => greenlight::cli::run(verb),
        None => match greenlight::ui::run(cli.spec.clone(), cli.kubeconfig) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => greenlight::cli::window_failed(&error, cli.spec.as_deref()),
        },
    }
}
