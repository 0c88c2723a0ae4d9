//! Quoting for the shells Greenlight writes commands for.

/// A word that cannot be written safely for the shell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{word:?} cannot be written safely in a shell command: {why}")]
pub struct QuoteError {
    /// The offending word.
    pub word: String,
    /// Why.
    pub why: &'static str,
}

/// Quotes `word` for POSIX shells (sh, bash, zsh) with `shlex`.
pub fn posix(word: &str) -> Result<String, QuoteError> {
    if word.chars().any(|c| c.is_control() && c != '\t') {
        return Err(QuoteError { word: word.to_owned(), why: "it contains a control character" });
    }
    // shlex quotes every '='; inside an argument (not at its start) '=' is plain text in sh,
    // bash and zsh, and `--from-file=token=/dev/stdin` reads better bare.
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:@%+,-=".contains(c);
    if !word.starts_with('=') && word.contains('=') && word.chars().all(plain) {
        return Ok(word.to_owned());
    }
    shlex::try_quote(word)
        .map(|quoted| quoted.into_owned())
        .map_err(|_| QuoteError { word: word.to_owned(), why: "it contains a NUL byte" })
}

/// Single quote characters PowerShell treats alike: ' and the Unicode single quotes.
const POWERSHELL_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// Quotes `word` as a PowerShell command argument: single quotes, with every kind of single
/// quote doubled. Words made only of characters PowerShell passes through unchanged stay bare.
pub fn powershell(word: &str) -> Result<String, QuoteError> {
    if word.chars().any(char::is_control) {
        return Err(QuoteError { word: word.to_owned(), why: "it contains a control character" });
    }
    let bare = word.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '/')
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | ':' | '=' | '-'));
    if bare {
        return Ok(word.to_owned());
    }
    powershell_literal(word)
}

/// A PowerShell string literal for expression positions (hashtable keys and values), where a
/// bare word would be run as a command: always single-quoted.
pub fn powershell_literal(word: &str) -> Result<String, QuoteError> {
    if word.chars().any(char::is_control) {
        return Err(QuoteError { word: word.to_owned(), why: "it contains a control character" });
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if POWERSHELL_QUOTES.contains(&c) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_quotes_only_when_needed() {
        assert_eq!(posix("github-token").as_deref(), Ok("github-token"));
        assert_eq!(posix("a b").as_deref(), Ok("'a b'"));
        assert_eq!(posix("it's").as_deref(), Ok("\"it's\""));
        assert_eq!(posix("").as_deref(), Ok("''"));
        assert_eq!(
            posix("--from-file=token=/dev/stdin").as_deref(),
            Ok("--from-file=token=/dev/stdin")
        );
        assert_eq!(posix("=cmd").as_deref(), Ok("'=cmd'"));
        assert_eq!(posix("--x=a b").as_deref(), Ok("'--x=a b'"));
        assert!(posix("a\0b").is_err());
        assert!(posix("a\nb").is_err());
    }

    #[test]
    fn powershell_doubles_every_single_quote_kind() {
        assert_eq!(powershell("github-token").as_deref(), Ok("github-token"));
        assert_eq!(powershell("--namespace").as_deref(), Ok("--namespace"));
        assert_eq!(powershell("a b").as_deref(), Ok("'a b'"));
        assert_eq!(powershell("it's").as_deref(), Ok("'it''s'"));
        assert_eq!(powershell("it\u{2019}s").as_deref(), Ok("'it\u{2019}\u{2019}s'"));
        assert_eq!(
            powershell("\u{2018}x\u{201A}\u{201B}").as_deref(),
            Ok("'\u{2018}\u{2018}x\u{201A}\u{201A}\u{201B}\u{201B}'")
        );
        assert_eq!(powershell("$env:HOME").as_deref(), Ok("'$env:HOME'"));
        assert_eq!(powershell("a,b").as_deref(), Ok("'a,b'"));
        assert_eq!(powershell(".x").as_deref(), Ok("'.x'"));
        assert_eq!(powershell("").as_deref(), Ok("''"));
        assert!(powershell("a\nb").is_err());
        assert_eq!(powershell_literal("github-token").as_deref(), Ok("'github-token'"));
        assert_eq!(powershell_literal("it's").as_deref(), Ok("'it''s'"));
    }
}
