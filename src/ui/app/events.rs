//! Folding what happened in the background into the state, once per frame: results of
//! background work (`UiEvent`) and the engine's `MonitorEvent`s.

use std::path::PathBuf;
use std::sync::Arc;

use super::{GreenlightApp, UiEvent};
use crate::spec::SecretSpec;

impl GreenlightApp {
    /// Folds background and engine events into the state.
    pub(super) fn drain(&mut self) {
        while let Ok(event) = self.inbox.try_recv() {
            match event {
                UiEvent::SpecLoaded { path, result: Ok(spec), bundled } => {
                    self.spec_loaded(path, *spec, bundled)
                }
                UiEvent::SpecLoaded { path, result: Err(error), .. } => {
                    self.spec_broken(path, error)
                }
                UiEvent::SpecChanged(path) => self.spec_changed(path),
                UiEvent::Contexts(contexts) => self.state.contexts = contexts,
                UiEvent::Profiles(profiles) => self.state.profiles = profiles,
                UiEvent::Picked(Some(path)) => self.load(path),
                UiEvent::Picked(None) => {}
                UiEvent::Saved(Ok(path)) => self.saved(&path),
                UiEvent::ManifestsPicked(path) => self.draft_from(path),
                UiEvent::Drafted { source, result } => self.drafted(source, result),
                UiEvent::DraftSaved(result) => self.draft_saved(result),
                UiEvent::Saved(Err(error)) => {
                    self.state.notify(format!("The report was not saved: {error}"))
                }
            }
        }
        let mut engine = Vec::new();
        if let Some(rx) = self.monitor_events.as_mut() {
            while let Ok(event) = rx.try_recv() {
                engine.push(event);
            }
        }
        for event in engine {
            self.state.apply(event);
        }
        self.drain_compared();
    }

    /// A spec was read: show it and check it. A file is watched for edits and remembered; a
    /// bundled example is neither.
    fn spec_loaded(&mut self, path: PathBuf, spec: SecretSpec, bundled: bool) {
        self.state.path_entry = None;
        let reloaded = self.state.spec_path.as_ref() == Some(&path) && self.state.spec.is_some();
        if !reloaded {
            self.state.environment = None;
        }
        let written = Arc::new(spec);
        self.state.written = Some(written.clone());
        let shown = self.shown_spec(&written);
        self.state.set_spec(path.clone(), shown, !bundled);
        self.state.note(match (reloaded, bundled) {
            (_, true) => format!("Opened the bundled example {}", path.display()),
            (true, false) => format!("Reloaded {}", path.display()),
            (false, false) => format!("Opened {}", path.display()),
        });
        if bundled {
            self.stop_watching_spec();
        } else {
            self.watch_spec(&path);
        }
        self.restart_monitor();
    }

    /// The spec the checklist shows: as written, or in the chosen environment while the spec
    /// still declares it; in the sandbox, with delivered values kept in its values namespace.
    pub(super) fn shown_spec(&mut self, written: &SecretSpec) -> SecretSpec {
        let chosen =
            self.state.environment.as_deref().map(|name| (name, written.in_environment(name)));
        let mut shown = match chosen {
            Some((_, Some(spec))) => spec,
            Some((name, None)) => {
                let note = format!(
                    "The spec no longer declares environment {name}; showing it as written"
                );
                self.state.note(note);
                self.state.environment = None;
                written.clone()
            }
            None => written.clone(),
        };
        if self.state.sandbox.is_some() {
            crate::sandbox::stand_in(&mut shown);
        }
        shown
    }

    /// A spec has problems; a broken edit of the open spec keeps the last good checklist.
    fn spec_broken(&mut self, path: PathBuf, error: String) {
        if self.state.spec_path.as_ref() != Some(&path) {
            self.state.spec_path = None;
            self.state.spec = None;
            self.monitor = None;
        }
        self.watch_spec(&path);
        self.state.note(format!("{} has problems", path.display()));
        self.state.spec_error = Some(error);
    }

    /// The open spec (or the broken one being fixed) changed on disk: read it again.
    fn spec_changed(&mut self, path: PathBuf) {
        if self.state.spec_path.as_ref() == Some(&path) || self.state.spec.is_none() {
            self.load(path);
        }
    }

    fn saved(&mut self, path: &std::path::Path) {
        self.state.notify(format!("Report saved to {}", path.display()));
        self.state.note(format!("Saved the report to {}", path.display()));
    }
}
