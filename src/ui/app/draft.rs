//! "New spec from manifests…": the manifests chosen (a dialog, or a typed path), a spec drafted
//! from them off the UI thread, shown for review, then saved and opened. Nothing is written
//! until the operator saves, and never over an existing file without the dialog's consent.

use std::path::PathBuf;

use super::{GreenlightApp, UiEvent};
use crate::init::{self, Options};
use crate::ui::state::DraftShown;

/// The name a draft is saved under.
const FILE_NAME: &str = "greenlight-spec.yaml";

impl GreenlightApp {
    pub(super) fn start_draft(&mut self) {
        self.state.manifests_entry.get_or_insert_with(String::new);
        self.state.draft_error = None;
    }

    /// A file or folder dialog; the choice is drafted from at once.
    pub(super) fn choose_manifests(&mut self, folder: bool) {
        if !super::background::file_chooser_available() {
            self.state.notify(super::NO_CHOOSER);
            return;
        }
        let events = self.events.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            let dialog =
                rfd::AsyncFileDialog::new().set_title("The deployment's rendered manifests");
            let picked = if folder {
                dialog.pick_folder().await
            } else {
                dialog
                    .add_filter("Manifests (YAML, JSON)", &["yaml", "yml", "json"])
                    .pick_file()
                    .await
            };
            if let Some(picked) = picked {
                events.send(UiEvent::ManifestsPicked(picked.path().to_owned())).ok();
                ctx.request_repaint();
            }
        });
    }

    pub(super) fn draft_typed(&mut self) {
        let Some(typed) = self.state.manifests_entry.as_deref().map(str::trim) else { return };
        if typed.is_empty() {
            return;
        }
        self.draft_from(super::dispatch::typed_path(typed));
    }

    /// Reads and drafts off the UI thread.
    pub(super) fn draft_from(&mut self, source: PathBuf) {
        self.state.manifests_entry = Some(source.display().to_string());
        self.state.draft_error = None;
        self.state.note(format!("Drafting a spec from {}", source.display()));
        let events = self.events.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            let read = source.clone();
            let result = tokio::task::spawn_blocking(move || {
                let inputs = init::inputs(&read).map_err(|e| e.to_string())?;
                init::draft(&inputs, &Options::default(), None).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            events.send(UiEvent::Drafted { source, result }).ok();
            ctx.request_repaint();
        });
    }

    pub(super) fn drafted(&mut self, source: PathBuf, result: Result<init::Draft, String>) {
        match result {
            Ok(draft) => {
                self.state.note(format!("Drafted a spec from {}", source.display()));
                // Placeholder descriptions and fields only a vendor can fill in.
                let todo =
                    draft.text.matches("\"TODO").count() + draft.text.matches(": TODO").count();
                self.state.draft =
                    Some(DraftShown { source, text: draft.text, summary: draft.summary, todo });
            }
            Err(error) => self.state.draft_error = Some(error),
        }
    }

    /// A save dialog where there is one; else beside the manifests, never over a file.
    pub(super) fn save_draft(&mut self) {
        let Some(draft) = self.state.draft.clone() else { return };
        let events = self.events.clone();
        let ctx = self.ctx.clone();
        let chooser = super::background::file_chooser_available();
        self.runtime.spawn(async move {
            let beside = if draft.source.is_dir() {
                draft.source.clone()
            } else {
                draft.source.parent().map(PathBuf::from).unwrap_or_default()
            };
            let path = if chooser {
                let picked = rfd::AsyncFileDialog::new()
                    .set_title("Save the drafted spec")
                    .add_filter("Greenlight spec (YAML)", &["yaml"])
                    .set_directory(&beside)
                    .set_file_name(FILE_NAME)
                    .save_file()
                    .await;
                match picked {
                    Some(file) => file.path().to_owned(),
                    None => return,
                }
            } else {
                beside.join(FILE_NAME)
            };
            let result = write(&path, &draft.text, !chooser).map(|()| path);
            events.send(UiEvent::DraftSaved(result)).ok();
            ctx.request_repaint();
        });
    }

    pub(super) fn draft_saved(&mut self, result: Result<PathBuf, String>) {
        match result {
            Ok(path) => {
                self.state.draft = None;
                self.state.manifests_entry = None;
                self.state.notify(format!("Spec saved to {}", path.display()));
                self.state.note(format!("Saved the drafted spec to {}", path.display()));
                self.load(path);
            }
            Err(error) => self.state.draft_error = Some(format!("The spec was not saved: {error}")),
        }
    }

    pub(super) fn discard_draft(&mut self) {
        self.state.draft = None;
        self.state.draft_error = None;
        self.state.manifests_entry = None;
    }
}

/// Writes the spec; `new_only` refuses an existing file (no dialog asked to replace it).
fn write(path: &std::path::Path, text: &str, new_only: bool) -> Result<(), String> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if new_only {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            format!(
                "{} already exists; move it aside or rename it, then save again",
                path.display()
            )
        }
        _ => format!("{}: {e}", path.display()),
    })?;
    file.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}
