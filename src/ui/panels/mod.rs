//! The window's parts, one file per panel, each a `*_ui` function that draws from `AppState`
//! and pushes `UiAction`s: the welcome screen, the header (where you are), the checklist,
//! a secret's details, the status bar with the activity log, and the matrix of environments.

mod checklist;
mod compare;
mod details;
mod header;
mod status;
mod welcome;

pub use checklist::{ROW_HEIGHT, checklist_ui, filter_ui};
pub use compare::compare_ui;
pub use details::details_ui;
pub use header::header_ui;
pub use status::{log_ui, status_ui};
pub use welcome::welcome_ui;
