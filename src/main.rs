//! The `greenlight` binary: headless subcommands, or the desktop app.

fn main() -> std::process::ExitCode {
    greenlight::cli::main()
}
