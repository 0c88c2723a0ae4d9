//! Spec problems: each names the file, line and column, the rule broken and how to fix it.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    /// The spec file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Short, stable identifier of the rule broken, e.g. `kubernetes-secret-name`.
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The offending source line, for display.
    pub source_line: Option<String>,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {} [{}]",
            self.file.display(),
            self.line,
            self.column,
            self.message,
            self.rule
        )?;
        if let Some(source) = &self.source_line {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_at: String = source
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, " {number} | {source}")?;
            writeln!(f, " {pad} | {caret_at}^")?;
        }
        write!(f, "  fix: {}", self.fix)
    }
}

/// Why a spec could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read at all.
    #[error("cannot read spec {}: {reason}. Check the path and that the file is readable.", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file was read but breaks one or more rules.
    #[error("{}", render_problems(problems))]
    Invalid {
        /// Every problem found, in file order.
        problems: Vec<SpecProblem>,
    },
}

impl SpecError {
    /// The problems, when the file was readable.
    pub fn problems(&self) -> &[SpecProblem] {
        match self {
            SpecError::Invalid { problems } => problems,
            SpecError::Read { .. } => &[],
        }
    }
}

fn render_problems(problems: &[SpecProblem]) -> String {
    let mut out = String::new();
    for (n, problem) in problems.iter().enumerate() {
        if n > 0 {
            out.push_str("\n\n");
        }
        out.push_str(&problem.to_string());
    }
    let count = problems.len();
    out.push_str(&format!(
        "\n\n{count} problem{} found; the spec was not loaded.",
        if count == 1 { "" } else { "s" }
    ));
    out
}
