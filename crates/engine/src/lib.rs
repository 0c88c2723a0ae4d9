//! Greenlight's engine: a checklist of the secrets a deployment needs, checked live against
//! the operator's own Kubernetes cluster or cloud account, without ever reading a value.
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
//!
//! Nothing here depends on a window or a command-line parser: the app (`greenlight`) sits on
//! top.

pub mod backends;
pub mod commands;
pub mod detect;
pub mod diagnose;
#[doc(hidden)]
pub mod fuzzing;
pub mod init;
pub mod place;
pub mod report;
pub mod shell;
pub mod spec;
pub mod text;

pub use spec::{SecretEntry, SecretSpec, SpecError};
