//! From bytes to text and from a parser's complaint to a positioned problem: size, UTF-8,
//! NUL and emptiness checks, and YAML/JSON syntax errors worded with a fix.

use std::path::Path;

use super::super::positions::PositionIndex;
use super::super::{MAX_SPEC_BYTES, SpecError};
use super::{Problems, closest, line_starts};

pub(super) fn single(
    file: &Path,
    text: &str,
    line: usize,
    column: usize,
    rule: &'static str,
    message: String,
    fix: String,
) -> SpecError {
    let problems = Problems {
        file,
        text,
        lines: line_starts(text),
        index: PositionIndex::default(),
        found: Vec::new(),
        warnings: Vec::new(),
    };
    SpecError::Invalid { problems: vec![problems.at(line, column, rule, message, fix)] }
}

/// The file's text, or why it cannot be a spec (too large, not UTF-8, binary, empty).
pub(super) fn text_of<'b>(bytes: &'b [u8], file: &Path) -> Result<&'b str, SpecError> {
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(single(
            file,
            "",
            1,
            1,
            "file-too-large",
            format!("the file is larger than {} MiB", MAX_SPEC_BYTES / (1024 * 1024)),
            "a spec lists secrets by name and is a few kilobytes; check that this is the spec file"
                .to_owned(),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let good = std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
                .unwrap_or_default();
            let (line, column) = line_column(good, good.len());
            return Err(single(
                file,
                "",
                line,
                column,
                "not-utf8",
                "the file is not UTF-8 text".to_owned(),
                "save the spec as UTF-8; if this is not a YAML or JSON spec, open the right file"
                    .to_owned(),
            ));
        }
    };
    if let Some(at) = text.find('\0') {
        let (line, column) = line_column(text, at);
        return Err(single(
            file,
            "",
            line,
            column,
            "binary-file",
            "the file contains a NUL byte, so it is not a text spec".to_owned(),
            "open the YAML or JSON spec file, not a binary".to_owned(),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(single(
            file,
            text,
            1,
            1,
            "empty-file",
            "the spec file is empty".to_owned(),
            "start from an example: `greenlight schema` prints the format, and specs/examples/ has complete specs".to_owned(),
        ));
    }
    Ok(text)
}
/// 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

pub(super) fn deserialize_problem(
    file: &Path,
    text: &str,
    error: &serde_saphyr::Error,
) -> SpecError {
    let (line, column) = error
        .location()
        .map(|l| {
            (
                usize::try_from(l.line()).unwrap_or(1).max(1),
                usize::try_from(l.column()).unwrap_or(1).max(1),
            )
        })
        .unwrap_or((1, 1));
    let message = strip_location(&error.without_snippet().to_string());
    let (line, column) =
        if message.contains("tab") { the_tab(text, line, column) } else { (line, column) };
    let index = PositionIndex::build(text);
    let field = index.path_at(super::super::Position { line, column }).filter(|p| !p.is_empty());
    let (rule, message, fix) = classify(&message, field, PositionIndex::well_formed(text));
    single(file, text, line, column, rule, message, fix)
}

/// Where the tab a parser complains about really is: the parser may place the complaint just
/// after it, or at the end of the line before (a tab that starts the next line). The first
/// tab on the complaint's line, else the first one after it within two lines.
fn the_tab(text: &str, line: usize, column: usize) -> (usize, usize) {
    let start = line_starts(text).get(line.saturating_sub(1)).copied().unwrap_or(0);
    let this_line = text.get(start..).and_then(|rest| rest.split('\n').next()).unwrap_or("");
    let from = if this_line.contains('\t') {
        start
    } else {
        text.get(start..)
            .and_then(|rest| rest.char_indices().nth(column.saturating_sub(1)))
            .map_or(start, |(at, _)| start + at)
    };
    match text.get(from..).and_then(|rest| rest.find('\t')) {
        Some(at) => {
            let (tab_line, tab_column) = line_column(text, from + at);
            if tab_line <= line + 2 { (tab_line, tab_column) } else { (line, column) }
        }
        None => (line, column),
    }
}

/// Drops the trailing "at line X column Y" the parser appends; the position is shown anyway.
fn strip_location(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    match first.rfind(" at line ") {
        Some(cut) => first.get(..cut).unwrap_or(first).to_owned(),
        None => first.to_owned(),
    }
}

/// Rule, message and fix for a deserializer error. `field` is the path at the error's position;
/// `well_formed` tells a type error in valid YAML from broken YAML.
fn classify(
    message: &str,
    field: Option<&str>,
    well_formed: bool,
) -> (&'static str, String, String) {
    let schema = "`greenlight schema` describes every field";
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let allowed: Vec<&str> = rest
            .split_once("expected one of ")
            .map(|(_, list)| list.split(", ").collect())
            .unwrap_or_default();
        let fix = match closest(name, &allowed) {
            Some(best) => format!("did you mean `{best}`? Allowed here: {}", allowed.join(", ")),
            None if allowed.is_empty() => format!("remove `{name}`"),
            None => format!(
                "remove `{name}` or correct its spelling; allowed here: {}",
                allowed.join(", ")
            ),
        };
        let subject = field.map(|f| format!(" in `{f}`")).unwrap_or_default();
        return ("unknown-field", format!("unknown field `{name}`{subject}"), fix);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return (
            "missing-field",
            format!("required field `{name}` is missing here"),
            format!("add `{name}:`; {schema}"),
        );
    }
    let subject = field.map(|f| format!("`{f}`: ")).unwrap_or_default();
    if message.starts_with("unknown variant") {
        return (
            "unknown-value",
            format!("{subject}{message}"),
            "use one of the values listed".to_owned(),
        );
    }
    if message.contains("duplicate") {
        let message = message.split(", set ").next().unwrap_or(message);
        return (
            "duplicate-key",
            message.to_owned(),
            "each key may appear once per mapping; remove one of them".to_owned(),
        );
    }
    if well_formed {
        let fix = if message.contains("boolean") {
            "write `true` or `false`".to_owned()
        } else {
            format!(
                "write a value of the expected type (quote text that looks like a number, e.g. \"123456789012\"); {schema}"
            )
        };
        return ("wrong-type", format!("{subject}{message}"), fix);
    }
    let fix = if message.contains("tab") {
        "replace the tab with spaces: YAML indents with spaces only"
    } else {
        "fix the YAML syntax here: indentation, a missing ':', or an unclosed quote or bracket"
    };
    ("yaml-syntax", message.to_owned(), fix.to_owned())
}
