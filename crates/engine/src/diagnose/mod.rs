//! Hints: what was actually found, in words, with the command that fixes or verifies it.
//! Pure: outcome + context -> hints. Probes attach the facts; this module words them.

pub mod aws;
pub mod kubernetes;

use serde::Serialize;

use crate::shell::quote::posix;

/// A word quoted for a POSIX shell, for the commands hints carry.
fn q(word: &str) -> String {
    posix(word).unwrap_or_else(|_| "'?'".to_owned())
}

/// One piece of advice attached to a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hint {
    /// What was found and what to do, in one or two sentences.
    pub text: String,
    /// A command that fixes or verifies it, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

impl Hint {
    /// A hint without a command.
    pub fn says(text: impl Into<String>) -> Self {
        Self { text: text.into(), command: None }
    }

    /// A hint with a command.
    pub fn with_command(text: impl Into<String>, command: impl Into<String>) -> Self {
        Self { text: text.into(), command: Some(command.into()) }
    }
}
