//! Text meant to be pasted whole into a shell: remarks and commands. A remark is inert in
//! every shell Greenlight writes for: in POSIX shells it is the no-op `:` with its text
//! single-quoted, never a `#` comment (interactive zsh runs a `#` line as a command unless
//! `interactive_comments` is set, which is not its default); in PowerShell a `#` comment, one
//! line each. Vendor text (headings, descriptions, the vendor's own commands) only ever
//! reaches a paste as a remark.

use super::{QuoteError, Shell, quote};

/// One line that says something, inert in `shell`. A line break in `text` starts another
/// remark; other control characters are refused.
pub fn remark(text: &str, shell: Shell) -> Result<String, QuoteError> {
    let lines: Result<Vec<String>, QuoteError> = text
        .lines()
        .map(|line| match shell {
            Shell::Posix => Ok(format!(": {}", quote::posix(line)?)),
            Shell::PowerShell => {
                if line.chars().any(char::is_control) {
                    return Err(QuoteError {
                        word: line.to_owned(),
                        why: "it contains a control character",
                    });
                }
                Ok(format!("# {line}"))
            }
        })
        .collect();
    let lines = lines?;
    Ok(if lines.is_empty() { remark_empty(shell) } else { lines.join("\n") })
}

fn remark_empty(shell: Shell) -> String {
    match shell {
        Shell::Posix => ":".to_owned(),
        Shell::PowerShell => "#".to_owned(),
    }
}

/// A document to paste: remarks, commands and blank lines, for one shell.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub(crate) shell: Shell,
    text: String,
}

impl Sheet {
    /// An empty sheet for `shell`.
    pub fn new(shell: Shell) -> Self {
        Self { shell, text: String::new() }
    }

    /// Adds `text` as remarks (one per line), inert whatever it holds.
    pub fn remark(&mut self, text: &str) -> Result<&mut Self, QuoteError> {
        self.text.push_str(&remark(text, self.shell)?);
        self.text.push('\n');
        Ok(self)
    }

    /// Adds a command Greenlight wrote for this sheet's shell (a `FixCommand`'s text).
    pub fn command(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text.trim_end_matches('\n'));
        self.text.push('\n');
        self
    }

    /// Adds an empty line.
    pub fn blank(&mut self) -> &mut Self {
        self.text.push('\n');
        self
    }

    /// The text to paste.
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remarks_are_inert_words() {
        let text = "it's!; touch x $(y) `z` # w";
        assert_eq!(remark(text, Shell::Posix).unwrap(), ": \"it's\"'!; touch x $(y) `z` # w'");
        assert_eq!(remark(text, Shell::PowerShell).unwrap(), format!("# {text}"));
        assert_eq!(remark("a\nb", Shell::Posix).unwrap(), ": a\n: b");
        assert!(remark("a\u{7}b", Shell::PowerShell).is_err());
        assert!(remark("a\u{7}b", Shell::Posix).is_err());
    }
}
