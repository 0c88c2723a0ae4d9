//! Text meant to be pasted whole into a shell: remarks and commands. A remark is inert in
//! every shell Greenlight writes for: in POSIX shells it is the no-op `:` with its text
//! single-quoted, never a `#` comment (interactive zsh runs a `#` line as a command unless
//! `interactive_comments` is set, which is not its default); in PowerShell a `#` comment, one
//! line each. Vendor text (headings, descriptions, the vendor's own commands) only ever
//! reaches a paste as a remark.

use super::{QuoteError, Shell, Target, for_entry, quote};
use crate::spec::{Platform, SecretEntry};

/// One line that says something, inert in `shell`. A line break in `text` starts another
/// remark; other control characters are refused.
pub(crate) fn remark(text: &str, shell: Shell) -> Result<String, QuoteError> {
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
    shell: Shell,
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

/// Every command of `entries` on `platform`, each entry under a remark saying what it is,
/// where it lives, what it is for and how it is delivered. Fails with the entry's name when
/// one of its names cannot be written safely for `shell`.
pub fn sheet<'a>(
    entries: impl IntoIterator<Item = &'a SecretEntry>,
    platform: Platform,
    target: &Target,
    shell: Shell,
) -> Result<Sheet, (String, QuoteError)> {
    let mut sheet = Sheet::new(shell);
    for entry in entries {
        entry_sheet(&mut sheet, entry, platform, target).map_err(|e| (entry.name.clone(), e))?;
    }
    Ok(sheet)
}

fn entry_sheet(
    sheet: &mut Sheet,
    entry: &SecretEntry,
    platform: Platform,
    target: &Target,
) -> Result<(), QuoteError> {
    let location = entry.placement(platform).map(|p| p.describe()).unwrap_or_default();
    let group = entry.group().title().to_lowercase();
    sheet.remark(&format!("### {} ({group}): {location}", entry.name))?;
    sheet.remark(&entry.description)?;
    if !entry.when.is_empty() {
        sheet.remark(&format!("Needed when: {}", entry.when.join(" and ")))?;
    }
    if let Some(delivered) = &entry.delivered {
        for t in &delivered.targets {
            let when = if t.when.is_empty() {
                String::new()
            } else {
                format!(" (when {})", t.when.join(" and "))
            };
            sheet.remark(&format!(
                "Delivered by ExternalSecret {}/{} into key {} of Secret {}{when}; never create that Secret by hand",
                t.namespace,
                t.external_secret,
                t.fed.join(", "),
                t.secret
            ))?;
        }
        if let Some(command) = &delivered.create_with {
            sheet.remark(&format!(
                "The vendor's tool creates it: run `{command}` (or create it with the command below)"
            ))?;
        }
    }
    for fix in for_entry(entry, platform, target, sheet.shell)? {
        sheet.blank().remark(&format!("## {}", fix.kind.title()))?;
        sheet.command(&fix.text);
    }
    sheet.blank();
    Ok(())
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
