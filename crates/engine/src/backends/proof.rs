//! The only ways a backend's answer proves a value does not exist. [`Absent`] can be made
//! nowhere else: a denied, throttled, failed, truncated or unfamiliar answer (an HTML page
//! from a proxy, a 200 without the field the API promises) can never become "missing".

use super::Answer;

/// Proof that the backend said the value does not exist, with names that look like typos of
/// it (near misses) when the backend lists names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absent {
    near: Vec<String>,
}

impl Absent {
    /// Names in the backend that look like typos of the wanted one.
    pub fn near(&self) -> &[String] {
        &self.near
    }
}

/// A backend's documented not-found answer: this status, a JSON body, and at `pointer` (a
/// JSON pointer) the value `expected`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotFound {
    pub(crate) status: u16,
    pub(crate) pointer: &'static str,
    pub(crate) expected: Expected,
}

/// What a not-found body holds at its pointer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expected {
    /// This text, e.g. Google's `NOT_FOUND`.
    Text(&'static str),
    /// An empty array, e.g. Vault's `{"errors":[]}`.
    EmptyArray,
}

impl NotFound {
    /// Proof of absence, when `answer` is exactly this not-found.
    pub(crate) fn proves(self, answer: &Answer) -> Option<Absent> {
        if answer.status != self.status || !answer.is_json() {
            return None;
        }
        let body: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
        let at = body.pointer(self.pointer)?;
        let matches = match self.expected {
            Expected::Text(text) => at.as_str() == Some(text),
            Expected::EmptyArray => at.as_array().is_some_and(Vec::is_empty),
        };
        matches.then(|| Absent { near: Vec::new() })
    }
}

/// Every name in a scope (a Doppler config, a Vault folder), read whole: every page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing {
    names: Vec<String>,
}

impl Listing {
    /// A listing known to be complete.
    pub(crate) fn complete(names: Vec<String>) -> Self {
        Self { names }
    }

    /// Whether it holds `name`.
    pub(crate) fn holds(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// Proof that `name` is absent, with near misses from the listing; `None` when it is there.
    pub(crate) fn proves_absent(&self, name: &str) -> Option<Absent> {
        (!self.holds(name)).then(|| Absent {
            near: super::near_misses(name, self.names.iter().map(String::as_str)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        Answer::new(status, content_type, body.as_bytes().to_vec().into(), None)
    }

    #[test]
    fn only_the_documented_not_found_proves_absence() {
        let google = NotFound {
            status: 404,
            pointer: "/error/status",
            expected: Expected::Text("NOT_FOUND"),
        };
        let json = "application/json; charset=UTF-8";
        assert!(google.proves(&answer(404, json, r#"{"error":{"status":"NOT_FOUND"}}"#)).is_some());
        for (status, content_type, body) in [
            (404, "text/html", "<html>404 Not Found</html>"),
            (404, json, r#"{"error":{"status":"PERMISSION_DENIED"}}"#),
            (404, json, r#"{"error":{"status":"NOT_FOUND""#),
            (403, json, r#"{"error":{"status":"NOT_FOUND"}}"#),
            (404, json, "{}"),
            (200, json, r#"{"error":{"status":"NOT_FOUND"}}"#),
        ] {
            assert!(
                google.proves(&answer(status, content_type, body)).is_none(),
                "{status} {body}"
            );
        }
        let vault = NotFound { status: 404, pointer: "/errors", expected: Expected::EmptyArray };
        assert!(vault.proves(&answer(404, "application/json", r#"{"errors":[]}"#)).is_some());
        assert!(
            vault
                .proves(&answer(404, "application/json", r#"{"errors":["no handler for route"]}"#))
                .is_none()
        );
        assert!(vault.proves(&answer(404, "text/plain", r#"{"errors":[]}"#)).is_none());
    }

    #[test]
    fn a_listing_proves_absence_and_names_near_misses() {
        let listing = Listing::complete(vec!["DATABASE_URL".into(), "API_TOKN".into()]);
        assert!(listing.proves_absent("DATABASE_URL").is_none());
        assert_eq!(listing.proves_absent("API_TOKEN").unwrap().near(), ["API_TOKN"]);
    }
}
