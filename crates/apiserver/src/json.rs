//! Small helpers every handler uses: JSON paths that never panic, and query parameters.

use serde_json::{Value, json};

/// Paths into JSON objects that never panic: a read of something absent is null, a write
/// makes the objects on its way (replacing anything else there).
pub(crate) trait JsonPath {
    fn at(&self, path: &[&str]) -> &Value;
    fn set(&mut self, path: &[&str], new: Value);
}

impl JsonPath for Value {
    fn at(&self, path: &[&str]) -> &Value {
        static NULL: Value = Value::Null;
        path.iter().try_fold(self, |node, key| node.get(*key)).unwrap_or(&NULL)
    }

    fn set(&mut self, path: &[&str], new: Value) {
        let mut node = self;
        for key in path {
            if !node.is_object() {
                *node = json!({});
            }
            let Some(map) = node.as_object_mut() else { return };
            node = map.entry((*key).to_owned()).or_insert(Value::Null);
        }
        *node = new;
    }
}

/// The decoded value of query parameter `name`.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let decoded = (byte == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (decoded, byte) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 7386 merge patch (also used for strategic merge patches, equivalent for Secrets).
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    target.remove(k);
                } else {
                    merge(target.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}
