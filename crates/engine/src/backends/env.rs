//! The environment Greenlight was started in, as the backends see it: captured once, at the
//! edge (the binary), and passed in, so no backend reads the process environment itself and a
//! test hands a backend exactly the environment it means.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::BackendKind;

/// Variables, home and working directories, and the program search path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
    home: Option<PathBuf>,
    cwd: Option<PathBuf>,
    path: Vec<PathBuf>,
}

impl Env {
    /// The variables every backend declares ([`super::Backend::env`]), `HOME`, the working
    /// directory and `PATH`, from this process.
    pub fn from_process() -> Self {
        let mut env = Env::default();
        for kind in BackendKind::ALL {
            for name in kind.backend().env() {
                if let Ok(value) = std::env::var(name) {
                    env.vars.insert((*name).to_owned(), value);
                }
            }
        }
        env.home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        env.cwd = std::env::current_dir().ok();
        env.path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        env
    }

    /// Every variable any backend reads, for tests that keep the process environment out.
    pub fn variables() -> Vec<&'static str> {
        let mut names: Vec<&'static str> =
            BackendKind::ALL.iter().flat_map(|k| k.backend().env().iter().copied()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The same, with `name` set to `value` (tests, and the app's own settings).
    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The same, with `home` as the home directory.
    pub fn with_home(mut self, home: &Path) -> Self {
        self.home = Some(home.to_owned());
        self
    }

    /// A variable's value, when set and not empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The home directory.
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// The working directory.
    pub fn cwd(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    /// Whether `program` is on the search path.
    pub fn has_program(&self, program: &str) -> bool {
        self.path.iter().any(|dir| dir.join(program).is_file())
    }
}
