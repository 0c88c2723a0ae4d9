//! The one place with side effects: every `UiAction` the panels and keys pushed is performed
//! here, one named method per action, and the monitor is (re)started and steered from here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::GreenlightApp;
use crate::commands::{self, CommandKind, Shell};
use crate::detect::{self, Mode, Monitor, MonitorCommand, ProbeOptions};
use crate::spec::{self, Platform};
use crate::ui::actions::{ReportFormat, UiAction};
use crate::ui::state::Line;

/// How long Greenlight hurries after a Copy.
const HURRY_FOR: Duration = Duration::from_secs(120);

impl GreenlightApp {
    /// Performs the actions: the one place with side effects.
    pub fn dispatch(&mut self, actions: Vec<UiAction>) {
        for action in actions {
            match action {
                UiAction::OpenDialog => self.open_dialog(),
                UiAction::OpenPath(path) => self.load(path),
                UiAction::SetPathDraft(text) => self.state.path_entry = Some(text),
                UiAction::OpenTypedPath => self.open_typed_path(),
                UiAction::OpenExample(file) => self.open_example(file),
                UiAction::StartDraft => self.start_draft(),
                UiAction::SetManifestsPath(text) => self.state.manifests_entry = Some(text),
                UiAction::ChooseManifests(folder) => self.choose_manifests(folder),
                UiAction::DraftTyped => self.draft_typed(),
                UiAction::SaveDraft => self.save_draft(),
                UiAction::DiscardDraft => self.discard_draft(),
                UiAction::ToggleCompare => self.toggle_compare(),
                UiAction::TogglePicker => self.toggle_picker(),
                UiAction::SetCompared(choice, on) => self.set_compared(choice, on),
                UiAction::SelectCell(cell) => self.select_cell(cell),
                UiAction::SetEnvironment(name) => self.set_environment(name),
                UiAction::OpenCell(entry, column) => self.open_cell(entry, column),
                UiAction::CloseSpec => self.close_spec(),
                UiAction::CheckNow => self.check_now(),
                UiAction::SetPlatform(platform) => self.set_platform(platform),
                UiAction::SetContext(context) => self.set_context(context),
                UiAction::SetProfile(profile) => self.set_profile(profile),
                UiAction::SetRegion(region) => self.set_region(region),
                UiAction::SetFeature(name, on) => self.set_feature(&name, on),
                UiAction::SetSkipped(name, skipped) => self.set_skipped(name, skipped),
                UiAction::Select(index) => {
                    self.state.selected = index;
                    // Esc closes a compared cell's details too.
                    if index.is_none() {
                        self.select_cell(None);
                    }
                }
                UiAction::SetShell(shell) => self.set_shell(shell),
                UiAction::Copy { text, entry, what } => self.copy(text, entry, &what),
                UiAction::CopySelectedCreate => self.copy_selected_create(),
                UiAction::Export(format) => self.export(format),
                UiAction::CopyReport => self.copy_report(),
                UiAction::CopyBatch(at) => self.copy_batch(at),
                UiAction::ToggleLog => self.state.show_log = !self.state.show_log,
                UiAction::SetFilter(text) => self.state.filter = text,
                UiAction::MoveSelection(step) => self.move_selection(step),
            }
        }
    }

    /// (Re)starts the monitor for the current spec and selection.
    pub(super) fn restart_monitor(&mut self) {
        self.monitor = None;
        self.monitor_events = None;
        let (Some(spec), Some(selection)) = (self.state.spec.clone(), self.state.selection.clone())
        else {
            return;
        };
        for row in &mut self.state.rows {
            row.outcome = None;
        }
        self.state.connection = None;
        self.state.ready = false;
        let (monitor, events) = self.spawn_monitor(spec, selection, &self.state.choices());
        self.monitor = Some(monitor);
        self.monitor_events = Some(events);
        self.restart_compare();
    }

    /// A monitor of `spec` where `target` points, and its events.
    pub(super) fn spawn_monitor(
        &self,
        spec: Arc<spec::SecretSpec>,
        selection: detect::Selection,
        target: &commands::Target,
    ) -> (Monitor, mpsc::UnboundedReceiver<detect::MonitorEvent>) {
        let _inside = self.runtime.enter();
        let options = ProbeOptions {
            mode: Mode::Live,
            request_timeout: Duration::from_secs(10),
            env: crate::backends::Env::from_process(),
        };
        let probe = detect::probe_for(selection.platform, target, &spec, options);
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = self.ctx.clone();
        let monitor = Monitor::spawn(
            &self.runtime,
            spec,
            selection,
            probe,
            tx,
            Arc::new(move || ctx.request_repaint()),
        );
        (monitor, rx)
    }

    fn send(&self, command: MonitorCommand) {
        if let Some(monitor) = &self.monitor {
            monitor.send(command);
        }
    }

    /// Tells the monitor the operator's new platform, features or skips.
    fn reselect(&self) {
        if let Some(selection) = &self.state.selection {
            self.send(MonitorCommand::Select(selection.clone()));
            self.send_compared(&MonitorCommand::Select(selection.clone()));
        }
    }

    /// Opens what was typed in the path field (`~` is the home folder).
    fn open_typed_path(&mut self) {
        let Some(typed) = self.state.path_entry.as_deref().map(str::trim) else { return };
        if typed.is_empty() {
            return;
        }
        self.load(typed_path(typed));
    }

    fn close_spec(&mut self) {
        self.monitor = None;
        self.monitor_events = None;
        self.compared.clear();
        self.state.compare = None;
        self.state.written = None;
        self.state.environment = None;
        self.stop_watching_spec();
        self.state.spec = None;
        self.state.spec_path = None;
        self.state.spec_error = None;
        self.state.selection = None;
        self.state.rows.clear();
        self.state.selected = None;
        self.state.remembered.last_spec = None;
    }

    fn check_now(&mut self) {
        self.send(MonitorCommand::Refresh);
        self.send_compared(&MonitorCommand::Refresh);
        self.state.checking = true;
    }

    fn set_platform(&mut self, platform: Platform) {
        if let Some(selection) = self.state.selection.as_mut() {
            selection.platform = platform;
        }
        self.restart_monitor();
    }

    fn set_context(&mut self, context: String) {
        self.state.remembered.context = Some(context);
        self.restart_monitor();
    }

    fn set_profile(&mut self, profile: String) {
        self.state.remembered.profile = Some(profile);
        self.restart_monitor();
    }

    /// Applies the region field once it holds a valid region (or nothing: the profile's).
    fn set_region(&mut self, region: String) {
        let trimmed = region.trim().to_owned();
        self.state.region_draft = region;
        let valid = trimmed.is_empty() || spec::is_aws_region(&trimmed);
        let wanted = (!trimmed.is_empty()).then_some(trimmed);
        if valid && wanted != self.state.remembered.region {
            self.state.remembered.region = wanted;
            self.restart_monitor();
        }
    }

    fn set_feature(&mut self, name: &str, on: bool) {
        if let Some(selection) = self.state.selection.as_mut() {
            selection.features.set(name, on);
        }
        self.reselect();
    }

    fn set_skipped(&mut self, name: String, skipped: bool) {
        if let Some(selection) = self.state.selection.as_mut() {
            selection.skipped.retain(|s| *s != name);
            if skipped {
                selection.skipped.push(name);
            }
        }
        self.reselect();
    }

    fn set_shell(&mut self, shell: Shell) {
        self.state.shell = shell;
        self.state.remembered.powershell = shell == Shell::PowerShell;
    }

    /// Puts a command on the clipboard; the monitor checks more often for a while, since the
    /// operator is about to run it.
    fn copy(&mut self, text: String, entry: usize, what: &str) {
        self.ctx.copy_text(text);
        if let Some(row) = self.state.rows.get_mut(entry) {
            row.copied_at = Some(Instant::now());
        }
        self.state.notify(format!("Copied the {what} command: paste it in a terminal."));
        self.send(MonitorCommand::Hurry(HURRY_FOR));
        // Copied from a compared environment's details: that column hurries.
        if let Some((_, at)) = self.state.compare.as_ref().and_then(|c| c.selected)
            && let Some((monitor, _)) = self.compared.get(at)
        {
            monitor.send(MonitorCommand::Hurry(HURRY_FOR));
        }
    }

    fn copy_selected_create(&mut self) {
        let Some(index) = self.state.selected else { return };
        if let Some(text) = self.command_for(index, CommandKind::Create) {
            self.copy(text, index, "create");
        }
    }

    fn command_for(&self, index: usize, kind: CommandKind) -> Option<String> {
        let spec = self.state.spec.as_ref()?;
        let selection = self.state.selection.as_ref()?;
        let entry = spec.entries.get(index)?;
        let target = self.state.command_target(selection.platform);
        commands::for_entry(entry, selection.platform, &target, self.state.shell)
            .ok()?
            .into_iter()
            .find(|c| c.kind == kind)
            .map(|c| c.text)
    }

    fn export(&mut self, format: ReportFormat) {
        if let Some(matrix) = self.state.matrix_report() {
            let (text, extension, name) = match format {
                ReportFormat::Markdown => (matrix.to_markdown(), "md", "Markdown"),
                ReportFormat::Json => (matrix.to_json(), "json", "JSON"),
            };
            let file_name = format!("{}-environments.{extension}", matrix.deployment);
            self.save_dialog(text, file_name, name, extension);
            return;
        }
        let Some(report) = self.state.report() else { return };
        let (text, extension, name) = match format {
            ReportFormat::Markdown => (report.to_markdown(), "md", "Markdown"),
            ReportFormat::Json => (report.to_json(), "json", "JSON"),
        };
        let file_name = format!("{}-secrets.{extension}", report.deployment);
        self.save_dialog(text, file_name, name, extension);
    }

    /// One paste for a whole step, written for the chosen shell and target.
    fn copy_batch(&mut self, at: usize) {
        let (Some(spec), Some(selection)) = (&self.state.spec, &self.state.selection) else {
            return;
        };
        let (platform, features) = (selection.platform, Some(&selection.features));
        let Some(batch) = commands::batches(spec, platform, features).into_iter().nth(at) else {
            return;
        };
        let target = self.state.command_target(platform);
        match commands::render_batch(&batch, spec, platform, &target, self.state.shell, features) {
            Ok(text) => {
                self.ctx.copy_text(text);
                for entry in &batch.entries {
                    if let Some(row) = self.state.rows.get_mut(*entry) {
                        row.copied_at = Some(Instant::now());
                    }
                }
                self.state.notify(format!("Copied: {}. Paste it in a terminal.", batch.title));
                self.send(MonitorCommand::Hurry(HURRY_FOR));
            }
            Err((name, error)) => {
                self.state.notify(format!("Cannot write the commands for {name}: {error}"));
            }
        }
    }

    fn copy_report(&mut self) {
        if let Some(matrix) = self.state.matrix_report() {
            self.ctx.copy_text(matrix.to_markdown());
            self.state.notify("Copied the environments report (Markdown, no values).");
        } else if let Some(report) = self.state.report() {
            self.ctx.copy_text(report.to_markdown());
            self.state.notify("Copied the status report (Markdown, no values).");
        }
    }

    /// Moves the selection `step` rows up or down the visible checklist.
    fn move_selection(&mut self, step: isize) {
        let entries: Vec<usize> = self
            .state
            .lines()
            .into_iter()
            .filter_map(|l| if let Line::Entry(i) = l { Some(i) } else { None })
            .collect();
        if entries.is_empty() {
            return;
        }
        let at = self.state.selected.and_then(|s| entries.iter().position(|e| *e == s));
        let next = match at {
            None => 0,
            Some(at) => at.saturating_add_signed(step).min(entries.len() - 1),
        };
        self.state.selected = entries.get(next).copied();
    }
}

/// A path as typed in a field: `~/` means the home folder.
pub(super) fn typed_path(typed: &str) -> std::path::PathBuf {
    match (typed.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(typed),
    }
}
