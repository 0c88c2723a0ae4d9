//! Everything the user can ask for, as data. Widgets push `UiAction`s; `app::dispatch` is the
//! one place that acts on them. Labels live here too, so tests find widgets by the same text
//! users see.

use std::path::PathBuf;

use crate::commands::Shell;
use crate::spec::Platform;

/// Button and menu labels.
pub mod label {
    /// Opens the file dialog.
    pub const OPEN: &str = "Open spec…";
    /// Checks everything now.
    pub const CHECK_NOW: &str = "Check now";
    /// Copies a command (suffix: its kind).
    pub const COPY: &str = "Copy";
    /// Saves the Markdown report.
    pub const EXPORT_MARKDOWN: &str = "Export Markdown…";
    /// Saves the JSON report.
    pub const EXPORT_JSON: &str = "Export JSON…";
    /// Copies the Markdown report.
    pub const COPY_REPORT: &str = "Copy report";
    /// Skips an optional secret.
    pub const SKIP: &str = "Skip this optional secret";
    /// Takes a skipped secret back.
    pub const UNSKIP: &str = "Don't skip";
    /// Shows or hides the activity log.
    pub const ACTIVITY: &str = "Activity";
    /// Filter field.
    pub const FILTER: &str = "Filter secrets";
    /// Applies the region field.
    pub const REGION: &str = "Region";
    /// Closes the spec.
    pub const CLOSE: &str = "Close spec";
    /// The field for a spec's path, when no file chooser is available.
    pub const PATH: &str = "Spec path";
    /// Opens the typed path.
    pub const OPEN_PATH: &str = "Open this file";
    /// Drafts a spec from the deployment's manifests.
    pub const FROM_MANIFESTS: &str = "New spec from manifests…";
    /// The field for the manifests' path.
    pub const MANIFESTS_PATH: &str = "Manifests (file or folder)";
    /// Drafts from the typed path.
    pub const DRAFT: &str = "Draft the spec";
    /// Chooses a manifest file.
    pub const CHOOSE_FILE: &str = "Choose file…";
    /// Chooses a folder of manifests.
    pub const CHOOSE_FOLDER: &str = "Choose folder…";
    /// Saves the drafted spec and opens it.
    pub const SAVE_DRAFT: &str = "Save and open…";
    /// Drops the drafted spec.
    pub const DISCARD_DRAFT: &str = "Discard";
    /// Opens the matrix of secrets × environments.
    pub const COMPARE: &str = "Compare environments";
    /// Goes back from the matrix to the checklist.
    pub const BACK_TO_CHECKLIST: &str = "Back to the checklist";
    /// Shows or hides the environment picker.
    pub const PICK_ENVIRONMENTS: &str = "Environments…";
    /// Opens a compared cell's environment in the checklist.
    pub const OPEN_IN_CHECKLIST: &str = "Open in the checklist";
    /// The environment picker's entry for the spec as written.
    pub const AS_WRITTEN: &str = "(as written)";
}

/// Something the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiAction {
    /// Show the open dialog.
    OpenDialog,
    /// Open this spec.
    OpenPath(PathBuf),
    /// The path field changed.
    SetPathDraft(String),
    /// Open the path typed in the path field.
    OpenTypedPath,
    /// Open a bundled example.
    OpenExample(&'static str),
    /// Close the spec and go back to the welcome screen.
    CloseSpec,
    /// Check everything now.
    CheckNow,
    /// Use this platform.
    SetPlatform(Platform),
    /// Use this kubeconfig context.
    SetContext(String),
    /// Use this AWS profile.
    SetProfile(String),
    /// Use this region for placements that name none (empty: the profile's).
    SetRegion(String),
    /// Turn a feature on or off.
    SetFeature(String, bool),
    /// Skip or unskip an optional secret.
    SetSkipped(String, bool),
    /// Show this entry's details.
    Select(Option<usize>),
    /// Write commands for this shell.
    SetShell(Shell),
    /// Put a command on the clipboard; the entry is checked more often for a while.
    Copy {
        /// The command.
        text: String,
        /// The entry it is for.
        entry: usize,
        /// What it is, for the notice.
        what: String,
    },
    /// Copy one paste for a whole step (see `commands::batches`): the batch's position.
    CopyBatch(usize),
    /// Save the report.
    Export(ReportFormat),
    /// Copy the Markdown report.
    CopyReport,
    /// Show or hide the activity log.
    ToggleLog,
    /// Show only secrets matching this text.
    SetFilter(String),
    /// Move the selection up or down the checklist.
    MoveSelection(isize),
    /// Copy the create command of the selected secret.
    CopySelectedCreate,
    /// Show the manifests field (the first step of a spec drafted from manifests).
    StartDraft,
    /// The manifests field changed.
    SetManifestsPath(String),
    /// Choose the manifests with a dialog: a folder when true, else a file.
    ChooseManifests(bool),
    /// Draft a spec from the manifests at the typed path.
    DraftTyped,
    /// Save the drafted spec and open it.
    SaveDraft,
    /// Drop the drafted spec.
    DiscardDraft,
    /// Show or leave "Compare environments".
    ToggleCompare,
    /// Show or hide the environment picker.
    TogglePicker,
    /// Compare this environment too, or no longer.
    SetCompared(crate::ui::compare::Choice, bool),
    /// Show this cell's details: (entry, column).
    SelectCell(Option<(usize, usize)>),
    /// Show this declared environment in the checklist (`None`: the spec as written).
    SetEnvironment(Option<String>),
    /// Open a compared column's environment in the checklist, on this entry: (entry, column).
    OpenCell(usize, usize),
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Markdown.
    Markdown,
    /// JSON, the CLI's shape.
    Json,
}
