//! Maps each node of a spec document to its line and column, so that problems found after
//! deserialization (a bad name, a duplicate) can point at the exact place in the file.
//! Paths read like `secrets[3].kubernetes.namespace`.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// A 1-based line and column in the spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

/// Where a node's key and value start.
#[derive(Debug, Clone, Copy)]
struct Spot {
    key: Position,
    value: Position,
}

/// Path of a node in the document.
pub fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

/// Path of a sequence element.
pub fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Positions of every node of one document, by path.
#[derive(Debug, Default)]
pub struct PositionIndex {
    spots: HashMap<String, Spot>,
}

enum Frame {
    Mapping { path: String, key: Option<(String, Position)> },
    Sequence { path: String, next: usize },
}

impl PositionIndex {
    /// Indexes `text`. A document that does not parse yields a partial index; the
    /// deserializer reports the syntax error itself.
    pub fn build(text: &str) -> Self {
        let mut spots = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        // Depth inside a complex (non-scalar) mapping key, which has no path of its own.
        let mut skipping = 0usize;
        let mut root_seen = false;
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let here = Position { line: span.start.line(), column: span.start.col() + 1 };
            let starts = matches!(
                event,
                Event::Scalar(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
                    | Event::Alias(..)
            );
            let opens = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
            let closes = matches!(event, Event::MappingEnd | Event::SequenceEnd);
            if skipping > 0 {
                if opens {
                    skipping += 1;
                } else if closes {
                    skipping -= 1;
                }
                continue;
            }
            if closes {
                stack.pop();
                finish_value(&mut stack);
                continue;
            }
            if !starts {
                continue;
            }
            // A key of the enclosing mapping?
            if let Some(Frame::Mapping { key, .. }) = stack.last_mut()
                && key.is_none()
            {
                match &event {
                    Event::Scalar(name, ..) => *key = Some((name.to_string(), here)),
                    _ if opens => {
                        *key = Some((String::from("?"), here));
                        skipping = 1;
                    }
                    _ => *key = Some((String::from("?"), here)),
                }
                continue;
            }
            let (path, key_pos) = match stack.last() {
                Some(Frame::Mapping { path, key: Some((name, pos)) }) => {
                    (key_path(path, name), *pos)
                }
                Some(Frame::Sequence { path, next }) => (index_path(path, *next), here),
                _ if !root_seen => {
                    root_seen = true;
                    (String::new(), here)
                }
                _ => continue,
            };
            spots.entry(path.clone()).or_insert(Spot { key: key_pos, value: here });
            match event {
                Event::MappingStart(..) => stack.push(Frame::Mapping { path, key: None }),
                Event::SequenceStart(..) => stack.push(Frame::Sequence { path, next: 0 }),
                _ => finish_value(&mut stack),
            }
        }
        Self { spots }
    }

    /// Where the value at `path` starts, or its nearest indexed ancestor.
    pub fn value(&self, path: &str) -> Position {
        self.lookup(path, |spot| spot.value)
    }

    /// Where the key of the entry at `path` starts (for sequence items, the item itself).
    pub fn key(&self, path: &str) -> Position {
        self.lookup(path, |spot| spot.key)
    }

    /// The deepest path whose value starts at `pos`, if any.
    pub fn path_at(&self, pos: Position) -> Option<&str> {
        self.spots
            .iter()
            .filter(|(_, spot)| spot.value == pos)
            .map(|(path, _)| path.as_str())
            .max_by_key(|path| path.len())
    }

    /// Whether `text` is well-formed YAML (whatever its content).
    pub fn well_formed(text: &str) -> bool {
        Parser::new_from_str(text).all(|item| item.is_ok())
    }

    fn lookup(&self, path: &str, pick: impl Fn(&Spot) -> Position) -> Position {
        let mut current = path;
        loop {
            if let Some(spot) = self.spots.get(current) {
                return pick(spot);
            }
            match current.rfind(['.', '[']) {
                Some(cut) => current = current.get(..cut).unwrap_or_default(),
                None if current.is_empty() => return Position { line: 1, column: 1 },
                None => current = "",
            }
        }
    }
}

/// Marks the current value of the innermost collection as complete.
fn finish_value(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Mapping { key, .. }) => *key = None,
        Some(Frame::Sequence { next, .. }) => *next += 1,
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_keys_and_items() {
        let text = "version: 1\nsecrets:\n  - name: a\n    kubernetes: { namespace: Bad_NS }\n  - name: b\n";
        let index = PositionIndex::build(text);
        assert_eq!(index.value("version"), Position { line: 1, column: 10 });
        assert_eq!(index.value("secrets[0].name"), Position { line: 3, column: 11 });
        assert_eq!(index.key("secrets[0].kubernetes"), Position { line: 4, column: 5 });
        assert_eq!(
            index.value("secrets[0].kubernetes.namespace"),
            Position { line: 4, column: 30 }
        );
        assert_eq!(index.value("secrets[1].name"), Position { line: 5, column: 11 });
        // A missing node falls back to its nearest ancestor.
        assert_eq!(index.value("secrets[1].kubernetes.keys[2]"), Position { line: 5, column: 5 });
    }

    #[test]
    fn json_documents_index_too() {
        let text = "{\n  \"version\": 1,\n  \"secrets\": [\n    {\"name\": \"a\"}\n  ]\n}\n";
        let index = PositionIndex::build(text);
        assert_eq!(index.value("secrets[0].name"), Position { line: 4, column: 14 });
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        let index = PositionIndex::build("features:\n  dns.automate: {default: true}\n");
        assert_eq!(key_path("features", "dns.automate"), "features[\"dns.automate\"]");
        assert_eq!(index.key("features[\"dns.automate\"]"), Position { line: 2, column: 3 });
    }
}
