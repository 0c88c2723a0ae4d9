//! The eframe app: owns the `AppState`, the monitor and the channels from background tasks.
//! Each frame: `logic` folds background and engine events into the state (`events`) and turns
//! keys into actions (`input`); `ui` draws the panels (`draw`), which push `UiAction`s;
//! `dispatch` performs them. All I/O (spec files, dialogs, kubeconfig and AWS profiles, the
//! network) runs on the tokio runtime (`background`), never here.

mod background;
mod compare;
mod dispatch;
mod draft;
mod draw;
mod events;
mod input;

use std::path::PathBuf;
use std::time::Duration;

use eframe::egui;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use background::{NO_CHOOSER, UiEvent};

use super::state::{AppState, Preferences};
use crate::commands::Shell;
use crate::detect::{Monitor, MonitorEvent};

/// How long a notice ("Copied …") stays.
const NOTICE_FOR: Duration = Duration::from_secs(8);

/// Storage key for remembered choices.
const STORAGE_KEY: &str = "greenlight";

/// How the app was started.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Spec to open.
    pub spec: Option<PathBuf>,
    /// kubeconfig file, when not the default one.
    pub kubeconfig: Option<PathBuf>,
    /// Set when the cluster is Greenlight's own sandbox: the label shown above the checklist.
    pub sandbox: Option<String>,
}

/// The desktop app.
pub struct GreenlightApp {
    /// What is shown.
    pub state: AppState,
    runtime: tokio::runtime::Handle,
    ctx: egui::Context,
    monitor: Option<Monitor>,
    monitor_events: Option<mpsc::UnboundedReceiver<MonitorEvent>>,
    /// One monitor per compared environment, in the columns' order.
    compared: Vec<(Monitor, mpsc::UnboundedReceiver<MonitorEvent>)>,
    events: mpsc::UnboundedSender<UiEvent>,
    inbox: mpsc::UnboundedReceiver<UiEvent>,
    spec_watch: Option<JoinHandle<()>>,
    filter_id: egui::Id,
    title: String,
}

impl GreenlightApp {
    /// Builds the app; opens `spec`, else the last spec, else shows the welcome screen.
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        runtime: tokio::runtime::Handle,
        options: AppOptions,
    ) -> Self {
        let AppOptions { spec, kubeconfig, sandbox } = options;
        let remembered: Preferences =
            cc.storage.and_then(|s| eframe::get_value(s, STORAGE_KEY)).unwrap_or_default();
        let (events, inbox) = mpsc::unbounded_channel();
        let mut state = AppState {
            shell: if remembered.powershell { Shell::PowerShell } else { Shell::Posix },
            region_draft: remembered.region.clone().unwrap_or_default(),
            kubeconfig: kubeconfig.clone(),
            sandbox,
            ..AppState::default()
        };
        let opening = spec.or_else(|| remembered.last_spec.clone().filter(|p| p.exists()));
        state.remembered = remembered;
        let app = Self {
            state,
            runtime,
            ctx: cc.egui_ctx.clone(),
            monitor: None,
            monitor_events: None,
            compared: Vec::new(),
            events,
            inbox,
            spec_watch: None,
            filter_id: egui::Id::unique("greenlight-filter"),
            title: "Greenlight".to_owned(),
        };
        app.list_connections();
        if let Some(path) = opening {
            app.load(path);
        }
        app
    }

    /// The window title names the deployment, for the task switcher (and scripts).
    fn update_title(&mut self, ctx: &egui::Context) {
        let title = match &self.state.spec {
            Some(spec) => format!("{} - Greenlight", spec.deployment),
            None => "Greenlight".to_owned(),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }
}

impl eframe::App for GreenlightApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain();
        let actions = self.shortcuts(ctx);
        self.dispatch(actions);
        // The only timed repaint: taking a notice away after a few seconds. Nothing else
        // repaints while nothing changes.
        if let Some((_, at)) = &self.state.notice {
            match NOTICE_FOR.checked_sub(at.elapsed()) {
                Some(left) => ctx.request_repaint_after(left),
                None => self.state.notice = None,
            }
        }
        self.update_title(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let actions = self.draw(ui);
        self.dispatch(actions);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.state.remembered);
    }
}
