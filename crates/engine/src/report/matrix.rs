//! One spec checked in several environments side by side (`check --env`): each environment's
//! own report, and per secret its state in each, names only, as every report.

use serde::Serialize;

use super::{CheckReport, Verdict};
use crate::detect::State;
use crate::text::one_line;

/// Every environment's report, and the matrix of states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixReport {
    /// The deployment's name.
    pub deployment: String,
    /// The platform checked.
    pub platform: &'static str,
    /// True when every environment is ready.
    pub ready: bool,
    /// Each environment: its name, when it was checked, and its whole report.
    pub environments: Vec<Environment>,
    /// Per secret, its state in each environment (in the environments' order).
    pub secrets: Vec<MatrixRow>,
}

/// One environment's column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    /// Its name, as given (`--env NAME=...`).
    pub name: String,
    /// When its check ended (RFC 3339).
    pub checked_at: String,
    /// Its report, as `check` prints it for one environment.
    #[serde(flatten)]
    pub report: CheckReport,
}

/// One secret across the environments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixRow {
    /// The entry's name.
    pub name: String,
    /// Whether readiness waits for it (in the first environment's selection).
    pub blocks_readiness: bool,
    /// Its state in each environment, by name.
    pub states: Vec<Cell>,
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The environment.
    pub environment: String,
    /// The state there.
    pub state: State,
    /// With `rotate_every`: whether it is due there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<bool>,
}

impl MatrixReport {
    /// Side by side, from each environment's name, check time and report (same spec).
    pub fn build(environments: Vec<Environment>) -> Self {
        let first = environments.first().map(|e| &e.report);
        let deployment = first.map(|r| r.deployment.clone()).unwrap_or_default();
        let platform = first.map_or("kubernetes", |r| r.platform);
        let rows = first.map(|r| r.secrets.clone()).unwrap_or_default();
        let secrets = rows
            .iter()
            .enumerate()
            .map(|(i, row)| MatrixRow {
                name: row.name.clone(),
                blocks_readiness: row.blocks_readiness,
                states: environments
                    .iter()
                    .filter_map(|e| {
                        let there = e.report.secrets.get(i)?;
                        Some(Cell {
                            environment: e.name.clone(),
                            state: there.state,
                            due: there.due,
                        })
                    })
                    .collect(),
            })
            .collect();
        Self {
            deployment,
            platform,
            ready: environments.iter().all(|e| e.report.ready),
            environments,
            secrets,
        }
    }

    /// The worst of the environments: missing in one beats could-not-check in another.
    pub fn verdict(&self) -> Verdict {
        let verdicts: Vec<Verdict> = self.environments.iter().map(|e| e.report.verdict()).collect();
        if verdicts.contains(&Verdict::Missing) {
            Verdict::Missing
        } else if verdicts.contains(&Verdict::Unknown) {
            Verdict::Unknown
        } else {
            Verdict::Ready
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Markdown for the vendor: the matrix, then each environment's own report, names only.
    pub fn to_markdown(&self) -> String {
        let verdict = if self.ready { "**Ready** in every environment" } else { "**Not ready**" };
        let mut out = format!(
            "# {}: secret status on {} in {} environments\n\n{verdict}. No secret values are included in this report.\n\n",
            self.deployment,
            self.platform,
            self.environments.len()
        );
        out.push_str("| Secret |");
        for e in &self.environments {
            out.push_str(&format!(
                " {} (checked {}) |",
                super::markdown_cell(&e.name),
                e.checked_at
            ));
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(self.environments.len()));
        out.push('\n');
        for row in &self.secrets {
            out.push_str(&format!("| `{}` |", row.name));
            for c in &row.states {
                let due = if c.due == Some(true) { ", due for rotation" } else { "" };
                out.push_str(&format!(" {} {}{due} |", c.state.symbol(), c.state.as_str()));
            }
            out.push('\n');
        }
        for e in &self.environments {
            out.push_str(&format!(
                "\n---\n\nEnvironment **{}**:\n\n",
                super::markdown_cell(&e.name)
            ));
            out.push_str(&e.report.to_markdown());
        }
        out
    }

    /// A table for a terminal: a row per secret, a column per environment, then what each
    /// environment says about itself.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let ready = |r: bool| if r { "READY" } else { "not ready" };
        out.push_str(&format!(
            "{} on {}: {} in {} environment{}\n\n",
            one_line(&self.deployment),
            self.platform,
            ready(self.ready),
            self.environments.len(),
            if self.environments.len() == 1 { "" } else { "s" }
        ));
        let width = self.secrets.iter().map(|r| r.name.chars().count()).max().unwrap_or(6).max(6);
        let cell = 22;
        out.push_str(&format!("  {:<width$}", "secret"));
        for e in &self.environments {
            out.push_str(&format!("  {:<cell$}", one_line(&e.name)));
        }
        out.push('\n');
        for row in &self.secrets {
            out.push_str(&format!("  {:<width$}", one_line(&row.name)));
            for c in &row.states {
                let due = if c.due == Some(true) { " (due)" } else { "" };
                let text = format!("{} {}{due}", c.state.symbol(), c.state.as_str());
                out.push_str(&format!("  {text:<cell$}"));
            }
            out.push('\n');
        }
        for e in &self.environments {
            let r = &e.report;
            out.push_str(&format!(
                "\n{}: {} ({}), checked at {}\n",
                one_line(&e.name),
                ready(r.ready),
                r.progress(),
                e.checked_at
            ));
            if let Some(connection) = &r.connection {
                out.push_str(&connection.to_text());
            }
            if let Some(root) = &r.root_cause {
                out.push_str(&format!(
                    "  {}: {}\n",
                    one_line(&root.headline()),
                    one_line(&root.detail)
                ));
            }
        }
        out
    }
}
