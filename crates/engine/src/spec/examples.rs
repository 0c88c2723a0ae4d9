//! The example specs that ship inside Greenlight (the files in `specs/examples/`), for the
//! welcome screen and the sandbox demo: one list, used by the app and the CLI.

/// One bundled example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example {
    /// What it shows, for a button.
    pub title: &'static str,
    /// Its file name in `specs/examples/`.
    pub file: &'static str,
    /// Its text.
    pub text: &'static str,
}

/// Every bundled example, the quickstart first.
pub const EXAMPLES: [Example; 3] = [
    Example {
        title: "Quickstart (Kubernetes and AWS)",
        file: "quickstart.yaml",
        text: include_str!("../../../../specs/examples/quickstart.yaml"),
    },
    Example {
        title: "Platform secret contract (16 secrets, features)",
        file: "platform-contract.yaml",
        text: include_str!("../../../../specs/examples/platform-contract.yaml"),
    },
    Example {
        title: "Doppler and External Secrets (JSON)",
        file: "doppler-eso.json",
        text: include_str!("../../../../specs/examples/doppler-eso.json"),
    },
];

/// The example named `file`.
pub fn example(file: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.file == file)
}
