//! Greenlight: a checklist of the secrets a deployment needs, live against the operator's own
//! Kubernetes cluster or AWS account, that never reads a secret value.
//!
//! Data flow:
//! 1. `spec` loads a vendor's YAML/JSON spec into a [`SecretSpec`] (validated, defaults
//!    resolved, every problem with file:line:column).
//! 2. `detect` asks each backend, through a [`detect::Probe`], whether each placement exists,
//!    using only value-free calls, and turns answers into [`detect::CheckOutcome`]s. The
//!    [`detect::Monitor`] keeps them live and emits [`detect::MonitorEvent`]s.
//! 3. `diagnose` turns an outcome plus what else was found into hints with fix commands.
//! 4. `commands` renders the create / verify / rotate [`commands::FixCommand`]s for a shell.
//! 5. `report` builds the redacted [`report::CheckReport`] (text, JSON, Markdown).
//! 6. `cli` and `ui` (the desktop app) sit on top; nothing in the engine depends on a display.

pub mod cli;
pub mod commands;
pub mod detect;
pub mod diagnose;
pub mod report;
pub mod sandbox;
pub mod spec;
pub mod ui;

pub use spec::{SecretEntry, SecretSpec, SpecError};
