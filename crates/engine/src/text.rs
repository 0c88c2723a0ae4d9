//! Text from elsewhere, made safe to show: foreign words (client libraries, servers,
//! proxies, the vendor's spec) pass through here before an operator sees them.
//! [`error_chain`] and [`scrub`] keep the useful words of an error and replace anything
//! credential-shaped (a proxy URL with a password, a bearer token echoed by a server, an access
//! key, a PEM block), [`printable`] and [`one_line`] escape what would change what a terminal
//! shows, and [`is_near_miss`] tells a typo from another name.

use std::borrow::Cow;

/// A character that changes what a terminal shows or does instead of being shown: control
/// characters (newline, escape, bell, the C1 set) and the bidirectional formatting
/// characters that reorder text on screen.
pub fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` made safe for a terminal: control characters other than line breaks and tabs (an
/// escape sequence can rewrite the clipboard or the screen) and bidirectional overrides are
/// shown as `\u{..}` escapes. Everything the CLI prints goes through this.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, |c| c != '\n' && c != '\t' && is_hidden_control(c))
}

/// One line of foreign text (a description, a server's message): like [`printable`], with line
/// breaks escaped too, so it cannot start a line of its own.
pub fn one_line(text: &str) -> Cow<'_, str> {
    escape(text, is_hidden_control)
}

fn escape(text: &str, hidden: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&hidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if hidden(c) { c.escape_unicode().to_string() } else { c.to_string() })
            .collect(),
    )
}

/// True when `found` looks like a typo of `wanted`: the same after folding case and
/// separators, or a small edit away.
pub fn is_near_miss(wanted: &str, found: &str) -> bool {
    if wanted == found {
        return false;
    }
    let limit = if wanted.len() >= 12 {
        2
    } else if wanted.len() >= 5 {
        1
    } else {
        0
    };
    // Folding keeps lengths, and an edit distance is at least the difference in length.
    if wanted.chars().count().abs_diff(found.chars().count()) > limit {
        return false;
    }
    let fold = |c: u8| match c.to_ascii_lowercase() {
        b'_' | b'.' => b'-',
        c => c,
    };
    if wanted.len() == found.len() && wanted.bytes().map(fold).eq(found.bytes().map(fold)) {
        return true;
    }
    strsim::levenshtein(wanted, found) <= limit
}

/// Longest text kept from a foreign message.
const MAX_CHARS: usize = 300;

/// An error and all its sources, joined and scrubbed: SDK errors hide the useful part in the
/// chain ("dispatch failure: ... connection refused").
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    scrub(&parts.join(": "))
}

/// `text` with credential-shaped words replaced by `[redacted]`, control characters removed
/// and at most [`MAX_CHARS`] characters kept.
pub fn scrub(text: &str) -> String {
    if let Some(at) = text.find("-----BEGIN") {
        let before = text.get(..at).unwrap_or_default();
        return format!("{}[redacted]", scrub(before));
    }
    let mut out = Vec::new();
    let mut redact_next = false;
    for word in text.split(' ') {
        if redact_next {
            out.push("[redacted]".to_owned());
            redact_next = false;
            continue;
        }
        // "Bearer X", "Basic X", "token: X", "password: X": the next word is the credential.
        let lower = word.to_ascii_lowercase();
        redact_next = matches!(lower.as_str(), "bearer" | "basic")
            || lower.strip_suffix(':').is_some_and(|key| {
                ["token", "password", "secret", "key"].iter().any(|k| key.ends_with(k))
            });
        out.push(scrub_word(word));
    }
    let joined: String = out.join(" ").chars().filter(|c| !c.is_control()).collect();
    if joined.chars().count() > MAX_CHARS {
        let mut cut: String = joined.chars().take(MAX_CHARS).collect();
        cut.push('…');
        cut
    } else {
        joined
    }
}

fn scrub_word(word: &str) -> String {
    // user:password@ in URLs.
    if let Some(scheme) = word.find("://") {
        let rest = word.get(scheme + 3..).unwrap_or_default();
        let host_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest.get(..host_end).and_then(|h| h.rfind('@')) {
            let prefix = word.get(..scheme + 3).unwrap_or_default();
            let after = rest.get(at + 1..).unwrap_or_default();
            return format!("{prefix}[redacted]@{after}");
        }
        return word.to_owned();
    }
    // key=value pairs whose key names a credential.
    if let Some((key, _)) = word.split_once('=') {
        let key = key.trim_start_matches('-').to_ascii_lowercase();
        if ["secret", "token", "password", "passwd", "key", "credential", "auth"]
            .iter()
            .any(|k| key.contains(k))
        {
            return format!("{}=[redacted]", word.split_once('=').map_or("", |(k, _)| k));
        }
    }
    let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if looks_like_credential(core) { word.replace(core, "[redacted]") } else { word.to_owned() }
}

/// AWS access key IDs, JWTs, and long opaque tokens (32+ characters of base64/hex alphabet
/// with both letters and digits).
fn looks_like_credential(word: &str) -> bool {
    let aws_key = word.len() == 20
        && ["AKIA", "ASIA", "AROA", "AIDA"].iter().any(|p| word.starts_with(p))
        && word.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let jwt = word.starts_with("eyJ") && word.matches('.').count() == 2;
    let opaque = word.len() >= 32
        && word.chars().all(|c| c.is_ascii_alphanumeric() || "+/=_-.".contains(c))
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_alphabetic());
    aws_key || jwt || opaque
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses() {
        assert!(is_near_miss("github-token", "github_token"));
        assert!(is_near_miss("github-token", "GitHub-Token"));
        assert!(is_near_miss("github-token", "github-tokn"));
        assert!(is_near_miss("github-token", "githb-tokn"));
        assert!(!is_near_miss("github-token", "github-token"));
        assert!(!is_near_miss("api", "app"));
        assert!(!is_near_miss("stripe-webhook", "slack-webhook"));
    }

    #[test]
    fn terminal_text_shows_control_characters_as_escapes() {
        assert_eq!(printable("plain\ttext\nnext line"), "plain\ttext\nnext line");
        assert_eq!(printable("clip\u{1b}]52;c;eA==\u{7}"), "clip\\u{1b}]52;c;eA==\\u{7}");
        assert_eq!(printable("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(one_line("one\ntwo"), "one\\u{a}two");
    }

    #[test]
    fn credentials_are_replaced_and_words_kept() {
        assert_eq!(
            scrub("error trying to connect: tcp connect error: Connection refused (os error 111)"),
            "error trying to connect: tcp connect error: Connection refused (os error 111)"
        );
        assert_eq!(
            scrub("proxy http://alice:s3cret@proxy.local:3128/ refused"),
            "proxy http://[redacted]@proxy.local:3128/ refused"
        );
        assert_eq!(
            scrub("header Authorization: Bearer abc.def"),
            "header Authorization: Bearer [redacted]"
        );
        assert_eq!(scrub("id_token: abc.def was refused"), "id_token: [redacted] was refused");
        assert_eq!(
            scrub("unexpected token < in the answer"),
            "unexpected token < in the answer",
            "an ordinary word after `token` stays"
        );
        assert_eq!(scrub("key AKIAIOSFODNN7EXAMPLE is bad"), "key [redacted] is bad");
        assert_eq!(
            scrub("--oidc-client-secret=hunter2 failed"),
            "--oidc-client-secret=[redacted] failed"
        );
        assert_eq!(
            scrub("got wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1 back"),
            "got [redacted] back"
        );
        assert_eq!(scrub("cert -----BEGIN PRIVATE KEY----- MIIE"), "cert [redacted]");
        assert_eq!(scrub("a\u{1b}]52;c;x\u{7}b"), "a]52;c;xb");
        assert_eq!(scrub(&"x ".repeat(400)).chars().count(), MAX_CHARS + 1);
    }
}
