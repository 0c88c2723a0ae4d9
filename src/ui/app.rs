//! The eframe app: owns the `AppState`, the monitor and the channels from background tasks.
//! Each frame: `logic` drains events into the state and handles shortcuts; `ui` draws the
//! panels, which push `UiAction`s; `dispatch` performs them. All I/O (spec files, dialogs,
//! kubeconfig and AWS profiles, the network) runs on the tokio runtime, never here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::actions::{ReportFormat, UiAction};
use super::panels;
use super::state::{AppState, Line, Remembered};
use crate::commands::{self, CommandKind, Shell};
use crate::detect::{self, Mode, Monitor, MonitorCommand, MonitorEvent, ProbeOptions};
use crate::spec::{self, SecretSpec};

/// Storage key for remembered choices.
const STORAGE_KEY: &str = "greenlight";

/// How long Greenlight hurries after a Copy.
const HURRY_FOR: Duration = Duration::from_secs(120);

/// Results of background work.
#[derive(Debug)]
pub enum UiEvent {
    /// A spec was read (or failed to be).
    SpecLoaded {
        /// Its path.
        path: PathBuf,
        /// The spec, or its problems as text.
        result: Result<Box<SecretSpec>, String>,
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
}

/// Reads and validates the spec at `path` off the async threads.
async fn read_spec(path: PathBuf) -> UiEvent {
    let read = path.clone();
    let result = tokio::task::spawn_blocking(move || {
        spec::load(&read).map(Box::new).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    UiEvent::SpecLoaded { path, result }
}

/// The bundled example specs.
fn example_text(file: &str) -> Option<&'static str> {
    match file {
        "quickstart.yaml" => Some(include_str!("../../specs/examples/quickstart.yaml")),
        "platform-contract.yaml" => {
            Some(include_str!("../../specs/examples/platform-contract.yaml"))
        }
        "doppler-eso.json" => Some(include_str!("../../specs/examples/doppler-eso.json")),
        _ => None,
    }
}

/// How the app was started.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Spec to open.
    pub spec: Option<PathBuf>,
    /// kubeconfig file, when not the default one.
    pub kubeconfig: Option<PathBuf>,
}

/// The desktop app.
pub struct GreenlightApp {
    /// What is shown.
    pub state: AppState,
    runtime: tokio::runtime::Handle,
    ctx: egui::Context,
    monitor: Option<Monitor>,
    monitor_events: Option<mpsc::UnboundedReceiver<MonitorEvent>>,
    events: mpsc::UnboundedSender<UiEvent>,
    inbox: mpsc::UnboundedReceiver<UiEvent>,
    spec_watch: Option<JoinHandle<()>>,
    filter_id: egui::Id,
    examples_dir: PathBuf,
    title: String,
}

impl GreenlightApp {
    /// Builds the app; opens `spec`, else the last spec, else shows the welcome screen.
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        runtime: tokio::runtime::Handle,
        options: AppOptions,
    ) -> Self {
        let AppOptions { spec, kubeconfig } = options;
        let remembered: Remembered =
            cc.storage.and_then(|s| eframe::get_value(s, STORAGE_KEY)).unwrap_or_default();
        let (events, inbox) = mpsc::unbounded_channel();
        let mut state = AppState {
            shell: if remembered.powershell { Shell::PowerShell } else { Shell::Posix },
            region_draft: remembered.region.clone().unwrap_or_default(),
            kubeconfig: kubeconfig.clone(),
            ..AppState::default()
        };
        let opening = spec.or_else(|| remembered.last_spec.clone().filter(|p| p.exists()));
        state.remembered = remembered;
        let examples_dir =
            std::env::temp_dir().join(format!("greenlight-examples-{}", std::process::id()));
        let app = Self {
            state,
            runtime,
            ctx: cc.egui_ctx.clone(),
            monitor: None,
            monitor_events: None,
            events,
            inbox,
            spec_watch: None,
            filter_id: egui::Id::unique("greenlight-filter"),
            examples_dir,
            title: "Greenlight".to_owned(),
        };
        app.list_connections();
        if let Some(path) = opening {
            app.load(path);
        }
        app
    }

    /// Lists kubeconfig contexts and AWS profiles in the background.
    fn list_connections(&self) {
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
    fn load(&self, path: PathBuf) {
        let events = self.events.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            events.send(read_spec(path).await).ok();
            ctx.request_repaint();
        });
    }

    /// Watches `path` for changes (its modification time, once a second).
    fn watch_spec(&mut self, path: &Path) {
        if let Some(task) = self.spec_watch.take() {
            task.abort();
        }
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

    /// (Re)starts the monitor for the current spec and selection.
    fn restart_monitor(&mut self) {
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
        let _inside = self.runtime.enter();
        let options = ProbeOptions { mode: Mode::Live, request_timeout: Duration::from_secs(10) };
        let probe = detect::probe_for(selection.platform, &self.state.choices(), &spec, options);
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = self.ctx.clone();
        self.monitor = Some(Monitor::spawn(
            &self.runtime,
            spec,
            selection,
            probe,
            tx,
            Arc::new(move || ctx.request_repaint()),
        ));
        self.monitor_events = Some(rx);
    }

    fn send(&self, command: MonitorCommand) {
        if let Some(monitor) = &self.monitor {
            monitor.send(command);
        }
    }

    fn reselect(&self) {
        if let Some(selection) = &self.state.selection {
            self.send(MonitorCommand::Select(selection.clone()));
        }
    }

    /// Folds background events into the state.
    fn drain(&mut self) {
        while let Ok(event) = self.inbox.try_recv() {
            match event {
                UiEvent::SpecLoaded { path, result } => match result {
                    Ok(spec) => {
                        let reloaded = self.state.spec_path.as_ref() == Some(&path)
                            && self.state.spec.is_some();
                        self.state.set_spec(path.clone(), *spec);
                        self.state.note(if reloaded {
                            format!("Reloaded {}", path.display())
                        } else {
                            format!("Opened {}", path.display())
                        });
                        self.watch_spec(&path);
                        self.restart_monitor();
                    }
                    Err(error) => {
                        // A broken edit keeps the last good checklist on screen.
                        if self.state.spec_path.as_ref() != Some(&path) {
                            self.state.spec_path = None;
                            self.state.spec = None;
                            self.monitor = None;
                        }
                        self.watch_spec(&path);
                        self.state.note(format!("{} has problems", path.display()));
                        self.state.spec_error = Some(error);
                    }
                },
                UiEvent::SpecChanged(path) => {
                    if self.state.spec_path.as_ref() == Some(&path) || self.state.spec.is_none() {
                        self.load(path);
                    }
                }
                UiEvent::Contexts(contexts) => self.state.contexts = contexts,
                UiEvent::Profiles(profiles) => self.state.profiles = profiles,
                UiEvent::Picked(Some(path)) => self.load(path),
                UiEvent::Picked(None) => {}
                UiEvent::Saved(Ok(path)) => {
                    self.state.notify(format!("Report saved to {}", path.display()));
                    self.state.note(format!("Saved the report to {}", path.display()));
                }
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
    }

    /// Keyboard shortcuts, and files dropped onto the window.
    fn shortcuts(&mut self, ctx: &egui::Context) -> Vec<UiAction> {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let mut actions = Vec::new();
        let typing = ctx.memory(|m| m.focused().is_some_and(|id| id == self.filter_id));
        ctx.input_mut(|i| {
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::O)) {
                actions.push(UiAction::OpenDialog);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::NONE, Key::F5))
                || i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::R))
            {
                actions.push(UiAction::CheckNow);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::E)) {
                actions.push(UiAction::Export(ReportFormat::Markdown));
            }
            if i.consume_shortcut(&KeyboardShortcut::new(
                Modifiers::COMMAND | Modifiers::SHIFT,
                Key::C,
            )) {
                actions.push(UiAction::CopySelectedCreate);
            }
            if !typing {
                if i.consume_key(Modifiers::NONE, Key::ArrowDown)
                    || i.consume_key(Modifiers::NONE, Key::J)
                {
                    actions.push(UiAction::MoveSelection(1));
                }
                if i.consume_key(Modifiers::NONE, Key::ArrowUp)
                    || i.consume_key(Modifiers::NONE, Key::K)
                {
                    actions.push(UiAction::MoveSelection(-1));
                }
                if i.consume_key(Modifiers::NONE, Key::Escape) {
                    actions.push(UiAction::Select(None));
                }
            }
            if let Some(path) = i
                .raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .find(|p| !p.as_os_str().is_empty())
            {
                actions.push(UiAction::OpenPath(path));
            }
        });
        if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::F)))
        {
            ctx.memory_mut(|m| m.request_focus(self.filter_id));
        }
        actions
    }

    /// Performs the actions: the one place with side effects.
    pub fn dispatch(&mut self, actions: Vec<UiAction>) {
        for action in actions {
            match action {
                UiAction::OpenDialog => {
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
                UiAction::OpenPath(path) => self.load(path),
                UiAction::OpenExample(file) => {
                    let Some(text) = example_text(file) else { continue };
                    let dir = self.examples_dir.clone();
                    let events = self.events.clone();
                    let ctx = self.ctx.clone();
                    self.runtime.spawn(async move {
                        let path = dir.join(file);
                        let written = tokio::task::spawn_blocking({
                            let path = path.clone();
                            move || {
                                std::fs::create_dir_all(&dir)
                                    .and_then(|()| std::fs::write(&path, text))
                            }
                        })
                        .await;
                        let result = match written {
                            Ok(Ok(())) => Ok(()),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(e) => Err(e.to_string()),
                        };
                        let event = match result {
                            Ok(()) => read_spec(path).await,
                            Err(error) => UiEvent::SpecLoaded {
                                path,
                                result: Err(format!("cannot write the example: {error}")),
                            },
                        };
                        events.send(event).ok();
                        ctx.request_repaint();
                    });
                }
                UiAction::CloseSpec => {
                    self.monitor = None;
                    self.monitor_events = None;
                    if let Some(task) = self.spec_watch.take() {
                        task.abort();
                    }
                    self.state.spec = None;
                    self.state.spec_path = None;
                    self.state.spec_error = None;
                    self.state.selection = None;
                    self.state.rows.clear();
                    self.state.selected = None;
                    self.state.remembered.last_spec = None;
                }
                UiAction::CheckNow => {
                    self.send(MonitorCommand::Refresh);
                    self.state.checking = true;
                }
                UiAction::SetPlatform(platform) => {
                    if let Some(selection) = self.state.selection.as_mut() {
                        selection.platform = platform;
                    }
                    self.restart_monitor();
                }
                UiAction::SetContext(context) => {
                    self.state.remembered.context = Some(context);
                    self.restart_monitor();
                }
                UiAction::SetProfile(profile) => {
                    self.state.remembered.profile = Some(profile);
                    self.restart_monitor();
                }
                UiAction::SetRegion(region) => {
                    let trimmed = region.trim().to_owned();
                    self.state.region_draft = region;
                    let valid = trimmed.is_empty() || spec::names::aws_region(&trimmed).is_ok();
                    let wanted = (!trimmed.is_empty()).then_some(trimmed);
                    if valid && wanted != self.state.remembered.region {
                        self.state.remembered.region = wanted;
                        self.restart_monitor();
                    }
                }
                UiAction::SetFeature(name, on) => {
                    if let Some(selection) = self.state.selection.as_mut() {
                        selection.features.set(&name, on);
                    }
                    self.reselect();
                }
                UiAction::SetSkipped(name, skipped) => {
                    if let Some(selection) = self.state.selection.as_mut() {
                        selection.skipped.retain(|s| *s != name);
                        if skipped {
                            selection.skipped.push(name);
                        }
                    }
                    self.reselect();
                }
                UiAction::Select(index) => self.state.selected = index,
                UiAction::SetShell(shell) => {
                    self.state.shell = shell;
                    self.state.remembered.powershell = shell == Shell::PowerShell;
                }
                UiAction::Copy { text, entry, what } => {
                    self.ctx.copy_text(text);
                    if let Some(row) = self.state.rows.get_mut(entry) {
                        row.copied_at = Some(Instant::now());
                    }
                    self.state
                        .notify(format!("Copied the {what} command: paste it in a terminal."));
                    self.send(MonitorCommand::Hurry(HURRY_FOR));
                }
                UiAction::CopySelectedCreate => {
                    let Some(index) = self.state.selected else { continue };
                    let text = self.command_for(index, CommandKind::Create);
                    if let Some(text) = text {
                        self.dispatch(vec![UiAction::Copy {
                            text,
                            entry: index,
                            what: "create".to_owned(),
                        }]);
                    }
                }
                UiAction::Export(format) => {
                    let Some(report) = self.state.report() else { continue };
                    let (text, extension, name) = match format {
                        ReportFormat::Markdown => (report.to_markdown(), "md", "Markdown"),
                        ReportFormat::Json => (report.to_json(), "json", "JSON"),
                    };
                    let file_name = format!("{}-secrets.{extension}", report.deployment);
                    let events = self.events.clone();
                    let ctx = self.ctx.clone();
                    self.runtime.spawn(async move {
                        let picked = rfd::AsyncFileDialog::new()
                            .set_title("Save the status report (no values)")
                            .add_filter(name, &[extension])
                            .set_file_name(&file_name)
                            .save_file()
                            .await;
                        if let Some(file) = picked {
                            let path = file.path().to_owned();
                            let result = tokio::fs::write(&path, text)
                                .await
                                .map(|()| path)
                                .map_err(|e| e.to_string());
                            events.send(UiEvent::Saved(result)).ok();
                            ctx.request_repaint();
                        }
                    });
                }
                UiAction::CopyReport => {
                    if let Some(report) = self.state.report() {
                        self.ctx.copy_text(report.to_markdown());
                        self.state.notify("Copied the status report (Markdown, no values).");
                    }
                }
                UiAction::ToggleLog => self.state.show_log = !self.state.show_log,
                UiAction::SetFilter(text) => self.state.filter = text,
                UiAction::MoveSelection(step) => {
                    let entries: Vec<usize> = self
                        .state
                        .lines()
                        .into_iter()
                        .filter_map(|l| if let Line::Entry(i) = l { Some(i) } else { None })
                        .collect();
                    if entries.is_empty() {
                        continue;
                    }
                    let at = self.state.selected.and_then(|s| entries.iter().position(|e| *e == s));
                    let next = match at {
                        None => 0,
                        Some(at) => {
                            (at as isize + step).clamp(0, entries.len() as isize - 1) as usize
                        }
                    };
                    self.state.selected = entries.get(next).copied();
                }
            }
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

    /// Draws the window and returns what the user asked for.
    pub fn draw(&mut self, ui: &mut egui::Ui) -> Vec<UiAction> {
        let mut actions = Vec::new();
        let state = &self.state;
        if state.spec.is_none() {
            egui::CentralPanel::default()
                .show(ui, |ui| panels::welcome_ui(ui, state, &mut actions));
            return actions;
        }
        egui::Panel::top("header").show(ui, |ui| {
            ui.add_space(4.0);
            panels::header_ui(ui, state, &mut actions);
            ui.add_space(4.0);
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.add_space(2.0);
            if state.show_log {
                panels::log_ui(ui, state);
                ui.separator();
            }
            panels::status_ui(ui, state, &mut actions);
            ui.add_space(2.0);
        });
        if let Some(index) = state.selected {
            egui::Panel::right("details").resizable(true).default_size(460.0).min_size(320.0).show(
                ui,
                |ui| {
                    panels::details_ui(ui, state, index, &mut actions);
                },
            );
        }
        egui::CentralPanel::default().show(ui, |ui| {
            panels::filter_ui(ui, state, &mut actions, self.filter_id);
            ui.add_space(4.0);
            panels::checklist_ui(ui, state, &mut actions);
        });
        actions
    }
}

impl eframe::App for GreenlightApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain();
        let actions = self.shortcuts(ctx);
        self.dispatch(actions);
        if self.state.notice.as_ref().is_some_and(|(_, at)| at.elapsed() > Duration::from_secs(8)) {
            self.state.notice = None;
        }
        if self.state.spec.is_some() {
            // The only timed repaint: the visible "checked N s ago".
            ctx.request_repaint_after(self.state.freshness_tick());
        }
        // The window title names the deployment, for the task switcher (and scripts).
        let title = match &self.state.spec {
            Some(spec) => format!("{} - Greenlight", spec.deployment),
            None => "Greenlight".to_owned(),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let actions = self.draw(ui);
        self.dispatch(actions);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.state.remembered);
    }
}
