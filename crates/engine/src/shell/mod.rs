//! Shell text: quoting for POSIX shells and PowerShell (`quote`), commands built from words
//! that are literal text or shell syntax (`Word`), and [`Sheet`]s of remarks and commands
//! meant to be pasted whole, inert wherever they hold foreign text.

pub mod quote;
mod sheet;

use std::str::FromStr;

pub use quote::QuoteError;
pub use sheet::{Sheet, remark};

/// The shell a command is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Shell {
    /// sh-compatible shells; multi-key commands need bash or zsh (process substitution).
    #[default]
    Posix,
    /// PowerShell 5.1 and 7 on any OS.
    PowerShell,
}

impl Shell {
    /// Name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Shell::Posix => "posix",
            Shell::PowerShell => "powershell",
        }
    }

    /// Label shown to people.
    pub fn title(self) -> &'static str {
        match self {
            Shell::Posix => "bash / zsh",
            Shell::PowerShell => "PowerShell",
        }
    }
}

impl FromStr for Shell {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "posix" | "sh" | "bash" | "zsh" => Ok(Shell::Posix),
            "powershell" | "pwsh" => Ok(Shell::PowerShell),
            other => Err(format!("unknown shell `{other}`: use posix or powershell")),
        }
    }
}

/// One piece of a shell word: literal text (quoted on output) or shell syntax (verbatim).
#[derive(Debug, Clone)]
pub enum Piece {
    Lit(String),
    Raw(String),
}

/// A shell word made of pieces, e.g. `--from-file=key=` followed by `<(...)`.
#[derive(Debug, Clone)]
pub struct Word(pub(crate) Vec<Piece>);

pub(crate) fn lit(text: impl Into<String>) -> Word {
    Word(vec![Piece::Lit(text.into())])
}

pub(crate) fn raw(text: impl Into<String>) -> Word {
    Word(vec![Piece::Raw(text.into())])
}

pub(crate) fn quote(text: &str, shell: Shell) -> Result<String, QuoteError> {
    match shell {
        Shell::Posix => quote::posix(text),
        Shell::PowerShell => quote::powershell(text),
    }
}

pub(crate) fn render(words: &[Word], shell: Shell) -> Result<String, QuoteError> {
    let mut rendered = Vec::with_capacity(words.len());
    for word in words {
        let mut text = String::new();
        for piece in &word.0 {
            match piece {
                Piece::Lit(s) => text.push_str(&quote(s, shell)?),
                Piece::Raw(s) => text.push_str(s),
            }
        }
        rendered.push(text);
    }
    Ok(rendered.join(" "))
}
