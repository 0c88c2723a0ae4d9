//! The `greenlight` binary: parse the command line, then run a headless verb or open the
//! desktop app.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = greenlight::cli::Cli::parse();
    let window = |launch: greenlight::cli::Launch| {
        greenlight::ui::run(greenlight::ui::AppOptions {
            spec: Some(launch.spec),
            kubeconfig: Some(launch.kubeconfig),
            sandbox: Some(launch.sandbox),
        })
    };
    match cli.verb {
        Some(verb) => greenlight::cli::run(verb, &window),
        None => match greenlight::ui::run(greenlight::ui::AppOptions {
            spec: cli.spec.clone(),
            kubeconfig: cli.kubeconfig,
            sandbox: None,
        }) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => greenlight::cli::window_failed(&error, cli.spec.as_deref()),
        },
    }
}
