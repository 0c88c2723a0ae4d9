//! Hints: what was found, in words, with what fixes or verifies it. Probes attach the facts;
//! this module words them. A hint's fix is typed ([`Fix`]): one of the entry's own commands,
//! a command line, or a document to hand to an administrator. It is written for the
//! operator's shell and target only where it is shown ([`Fix::render`]), so a PowerShell user
//! sees PowerShell and every command names the kubeconfig and context in use.

pub mod aws;
pub mod kubernetes;

use crate::commands::{self, CommandKind, Shell, Target};
use crate::shell::{QuoteError, quote};
use crate::spec::{FeatureSet, Platform, SecretEntry};

/// One piece of advice attached to a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// What was found and what to do, in one or two sentences.
    pub text: String,
    /// What fixes or verifies it, when there is something to copy.
    pub fix: Option<Fix>,
}

/// Something to copy that fixes or verifies what a hint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// One of the entry's own commands (create, verify, rotate, sync now).
    Entry(CommandKind),
    /// Command lines, each an argv of literal words, quoted for the shell where shown.
    Run(Vec<Vec<String>>),
    /// A document to hand to an administrator (an IAM policy), shown as it is.
    Document(String),
    /// Greenlight's own words for each shell (setting or unsetting a variable).
    Script {
        /// For bash and zsh.
        posix: String,
        /// For PowerShell.
        powershell: String,
    },
}

impl Hint {
    /// A hint without anything to copy.
    pub fn says(text: impl Into<String>) -> Self {
        Self { text: text.into(), fix: None }
    }

    /// A hint whose fix is the entry's own command of `kind`.
    pub fn entry(text: impl Into<String>, kind: CommandKind) -> Self {
        Self { text: text.into(), fix: Some(Fix::Entry(kind)) }
    }

    /// A hint whose fix is one command line.
    pub fn run(text: impl Into<String>, words: &[&str]) -> Self {
        Self::lines(text, vec![argv(words)])
    }

    /// A hint whose fix is several command lines.
    pub fn lines(text: impl Into<String>, lines: Vec<Vec<String>>) -> Self {
        Self { text: text.into(), fix: Some(Fix::Run(lines)) }
    }

    /// A hint whose fix is a document.
    pub fn document(text: impl Into<String>, document: impl Into<String>) -> Self {
        Self { text: text.into(), fix: Some(Fix::Document(document.into())) }
    }
}

impl From<&crate::backends::LoginCommand> for Fix {
    fn from(command: &crate::backends::LoginCommand) -> Self {
        match command {
            crate::backends::LoginCommand::Run(words) => Fix::Run(vec![argv(words)]),
            crate::backends::LoginCommand::Script { posix, powershell } => {
                Fix::Script { posix: (*posix).to_owned(), powershell: (*powershell).to_owned() }
            }
        }
    }
}

/// An argv from words.
pub fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// Where a hint is shown: the entry it is about, and how its commands are written there.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    /// The entry.
    pub entry: &'a SecretEntry,
    /// The platform checked.
    pub platform: Platform,
    /// Where commands point.
    pub target: &'a Target,
    /// The operator's shell.
    pub shell: Shell,
    /// Features on (Sync now names only the ExternalSecrets needed with them).
    pub features: &'a FeatureSet,
}

impl Fix {
    /// The text to copy, written for where it is shown; `None` when there is none (an entry
    /// without that command).
    pub fn render(&self, at: &Shown<'_>) -> Result<Option<String>, QuoteError> {
        match self {
            Fix::Entry(kind) => commands::command(
                at.entry,
                at.platform,
                at.target,
                at.shell,
                *kind,
                Some(at.features),
            ),
            Fix::Run(lines) => {
                let written: Result<Vec<String>, QuoteError> =
                    lines.iter().map(|words| line(words, at.shell)).collect();
                Ok(Some(written?.join("\n")))
            }
            Fix::Document(text) => Ok(Some(text.clone())),
            Fix::Script { posix, powershell } => Ok(Some(match at.shell {
                Shell::Posix => posix.clone(),
                Shell::PowerShell => powershell.clone(),
            })),
        }
    }
}

fn line(words: &[String], shell: Shell) -> Result<String, QuoteError> {
    let quoted: Result<Vec<String>, QuoteError> = words
        .iter()
        .map(|w| match shell {
            Shell::Posix => quote::posix(w),
            Shell::PowerShell => quote::powershell(w),
        })
        .collect();
    Ok(quoted?.join(" "))
}
