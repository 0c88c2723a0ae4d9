//! Work the app hands to the tokio runtime, and what comes back: reading spec files,
//! watching the open one for edits, listing kubeconfig contexts and AWS profiles. Dialogs and
//! report saving are started from `dispatch`; their results arrive here too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::GreenlightApp;
use crate::detect;
use crate::spec::{self, SecretSpec};

/// Results of background work.
#[derive(Debug)]
pub enum UiEvent {
    /// A spec was read (or failed to be).
    SpecLoaded {
        /// Its path (for a bundled example, `specs/examples/NAME`, which is not read).
        path: PathBuf,
        /// The spec, or its problems as text.
        result: Result<Box<SecretSpec>, String>,
        /// A bundled example, read from memory: not watched, not a recent file.
        bundled: bool,
    },
    /// The open spec changed on disk.
    SpecChanged(PathBuf),
    /// kubeconfig contexts.
    Contexts(Vec<String>),
    /// AWS profiles.
    Profiles(Vec<String>),
    /// The open dialog closed.
    Picked(Option<PathBuf>),
    /// A report was saved (or not).
    Saved(Result<PathBuf, String>),
    /// Manifests were chosen for a draft.
    ManifestsPicked(PathBuf),
    /// A spec was drafted from manifests (or not).
    Drafted {
        /// The manifests.
        source: PathBuf,
        /// The draft, or why there is none.
        result: Result<crate::init::Draft, String>,
    },
    /// The drafted spec was saved (or not).
    DraftSaved(Result<PathBuf, String>),
}

/// Reads and validates the spec at `path` off the async threads.
pub(super) async fn read_spec(path: PathBuf) -> UiEvent {
    let read = path.clone();
    let result = tokio::task::spawn_blocking(move || {
        spec::load(&read).map(Box::new).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    UiEvent::SpecLoaded { path, result, bundled: false }
}

/// Why the path field is shown.
pub const NO_CHOOSER: &str = "No file chooser is available on this desktop (no file-chooser portal, no zenity). Install one (`sudo apt install xdg-desktop-portal-gtk`, or `zenity`), or type the spec's path.";

/// Whether a file chooser can open: a desktop portal on the session bus, or zenity.
pub(super) fn file_chooser_available() -> bool {
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
    };
    let portal = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        && ["/usr/libexec/xdg-desktop-portal", "/usr/lib/xdg-desktop-portal"]
            .iter()
            .any(|p| Path::new(p).exists());
    portal || on_path("zenity")
}

impl GreenlightApp {
    /// Lists kubeconfig contexts and AWS profiles in the background.
    pub(super) fn list_connections(&self) {
        let events = self.events.clone();
        let ctx = self.ctx.clone();
        let kubeconfig = self.state.kubeconfig.clone();
        self.runtime.spawn(async move {
            let contexts = tokio::task::spawn_blocking(move || {
                detect::kubernetes::contexts(kubeconfig.as_deref())
                    .map(|(names, _)| names)
                    .unwrap_or_default()
            })
            .await
            .unwrap_or_default();
            events.send(UiEvent::Contexts(contexts)).ok();
            events.send(UiEvent::Profiles(detect::aws::profiles().await.0)).ok();
            ctx.request_repaint();
        });
    }

    /// Reads `path` in the background.
    pub(super) fn load(&self, path: PathBuf) {
        let events = self.events.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            events.send(read_spec(path).await).ok();
            ctx.request_repaint();
        });
    }

    /// Watches `path` for changes (its modification time, once a second).
    pub(super) fn watch_spec(&mut self, path: &Path) {
        self.stop_watching_spec();
        let events = self.events.clone();
        let ctx = self.ctx.clone();
        let path = path.to_owned();
        self.spec_watch = Some(self.runtime.spawn(async move {
            let stamp = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let mut last = stamp(&path);
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = stamp(&path);
                if now != last {
                    last = now;
                    events.send(UiEvent::SpecChanged(path.clone())).ok();
                    ctx.request_repaint();
                }
            }
        }));
    }

    /// Stops watching the spec file, if one is watched.
    pub(super) fn stop_watching_spec(&mut self) {
        if let Some(task) = self.spec_watch.take() {
            task.abort();
        }
    }

    /// Shows the open dialog; the choice arrives as `UiEvent::Picked`. Without a file
    /// chooser on this desktop (no portal, no zenity) rfd shows nothing at all, so the window
    /// says so and offers a path field instead.
    pub(super) fn open_dialog(&mut self) {
        if !file_chooser_available() {
            self.state.path_entry.get_or_insert_with(String::new);
            self.state.notify(NO_CHOOSER);
            return;
        }
        let events = self.events.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            let picked = rfd::AsyncFileDialog::new()
                .set_title("Open a Greenlight spec")
                .add_filter("Greenlight spec (YAML, JSON)", &["yaml", "yml", "json"])
                .pick_file()
                .await;
            events.send(UiEvent::Picked(picked.map(|f| f.path().to_owned()))).ok();
            ctx.request_repaint();
        });
    }

    /// Shows the save dialog and writes `text` where the operator chose.
    pub(super) fn save_dialog(
        &self,
        text: String,
        file_name: String,
        kind: &'static str,
        extension: &'static str,
    ) {
        let events = self.events.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            let picked = rfd::AsyncFileDialog::new()
                .set_title("Save the status report (no values)")
                .add_filter(kind, &[extension])
                .set_file_name(&file_name)
                .save_file()
                .await;
            if let Some(file) = picked {
                let path = file.path().to_owned();
                let result =
                    tokio::fs::write(&path, text).await.map(|()| path).map_err(|e| e.to_string());
                events.send(UiEvent::Saved(result)).ok();
                ctx.request_repaint();
            }
        });
    }

    /// Opens a bundled example from memory (nothing is written to disk).
    pub(super) fn open_example(&self, file: &'static str) {
        let Some(example) = spec::examples::example(file) else { return };
        let path = std::path::Path::new("specs/examples").join(example.file);
        let result = spec::parse_bytes(example.text.as_bytes(), &path)
            .map(Box::new)
            .map_err(|e| e.to_string());
        self.events.send(UiEvent::SpecLoaded { path, result, bundled: true }).ok();
        self.ctx.request_repaint();
    }
}
