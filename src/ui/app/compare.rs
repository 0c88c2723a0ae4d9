//! "Compare environments": one monitor per compared environment, each with its own connection
//! and probe, so a slow or unreachable environment marks only its own column. The choices are
//! remembered per spec file.

use std::sync::Arc;

use super::GreenlightApp;
use crate::detect::MonitorCommand;
use crate::spec::SecretSpec;
use crate::ui::compare::{Choice, Column, Compare, MOST_COLUMNS, first_choices};

impl GreenlightApp {
    /// The key the compared environments are remembered under: the spec's file.
    fn compare_key(&self) -> Option<String> {
        self.state.spec_path.as_ref().map(|p| p.display().to_string())
    }

    /// The environments compared for this spec: as remembered, else the spec's own.
    fn compared_choices(&self) -> Vec<Choice> {
        let remembered = self.compare_key().and_then(|k| self.state.remembered.compare.get(&k));
        match (remembered, &self.state.spec) {
            (Some(choices), _) => choices.clone(),
            (None, Some(spec)) => first_choices(spec),
            (None, None) => Vec::new(),
        }
    }

    /// Shows the matrix (its monitors start) or leaves it (they stop).
    pub(super) fn toggle_compare(&mut self) {
        if self.state.compare.take().is_some() {
            self.compared.clear();
            return;
        }
        if self.state.spec.is_none() {
            return;
        }
        self.state.compare = Some(Compare::default());
        self.restart_compare();
        if let Some(compare) = self.state.compare.as_mut() {
            compare.picking = compare.columns.len() < 2;
        }
    }

    /// Starts every column again (a new spec, platform or kubeconfig), while the matrix shows.
    pub(super) fn restart_compare(&mut self) {
        if self.state.compare.is_none() {
            return;
        }
        self.compared.clear();
        let choices = self.compared_choices();
        let mut columns = Vec::new();
        for choice in choices.into_iter().take(MOST_COLUMNS) {
            if let Some(column) = self.start_column(choice) {
                columns.push(column);
            }
        }
        if let Some(compare) = self.state.compare.as_mut() {
            compare.selected = None;
            compare.columns = columns;
        }
    }

    /// The spec the columns start from: as written (whatever environment the checklist shows);
    /// in the sandbox, with delivered values kept in its values namespace.
    fn compared_base(&self) -> Option<Arc<SecretSpec>> {
        let written = self.state.written.clone().or_else(|| self.state.spec.clone())?;
        if self.state.sandbox.is_none() {
            return Some(written);
        }
        let mut spec = written.as_ref().clone();
        crate::sandbox::stand_in(&mut spec);
        Some(Arc::new(spec))
    }

    /// A column for `choice` and its monitor (kept in `compared`, in the same order).
    fn start_column(&mut self, choice: Choice) -> Option<Column> {
        let (spec, selection) = (self.compared_base()?, self.state.selection.clone()?);
        if let Choice::Declared(name) = &choice
            && spec.environment(name).is_none()
        {
            return None;
        }
        let (spec, target) = choice.resolve(&spec, &self.state.choices());
        let monitor = self.spawn_monitor(spec.clone(), selection, &target);
        self.compared.push(monitor);
        Some(Column::new(choice, spec, target))
    }

    pub(super) fn toggle_picker(&mut self) {
        if let Some(compare) = self.state.compare.as_mut() {
            compare.picking = !compare.picking;
        }
    }

    /// Adds or removes one environment; the others keep their monitors and rows.
    pub(super) fn set_compared(&mut self, choice: Choice, on: bool) {
        let Some(key) = self.compare_key() else { return };
        let mut choices = self.compared_choices();
        let at = choices.iter().position(|c| *c == choice);
        match (on, at) {
            (true, None) if choices.len() < MOST_COLUMNS => {
                choices.push(choice.clone());
                if let Some(column) = self.start_column(choice)
                    && let Some(compare) = self.state.compare.as_mut()
                {
                    compare.columns.push(column);
                }
            }
            (true, None) => {
                self.state.notify(format!("At most {MOST_COLUMNS} environments side by side"));
                return;
            }
            (false, Some(at)) => {
                choices.remove(at);
                if let Some(compare) = self.state.compare.as_mut()
                    && let Some(column) = compare.columns.iter().position(|c| c.choice == choice)
                {
                    compare.columns.remove(column);
                    if column < self.compared.len() {
                        self.compared.remove(column);
                    }
                    compare.selected = None;
                }
            }
            _ => return,
        }
        self.state.remembered.compare.insert(key, choices);
    }

    /// Shows a declared environment in the checklist (or the spec as written), reached where
    /// the spec says.
    pub(super) fn set_environment(&mut self, name: Option<String>) {
        let (Some(written), Some(path)) =
            (self.state.written.clone(), self.state.spec_path.clone())
        else {
            return;
        };
        if let Some(env) = name.as_deref().and_then(|n| written.environment(n)) {
            let remembered = &mut self.state.remembered;
            remembered.context = env.context.clone().or(remembered.context.take());
            remembered.profile = env.profile.clone().or(remembered.profile.take());
            remembered.region = env.region.clone().or(remembered.region.take());
            self.state.region_draft = remembered.region.clone().unwrap_or_default();
        }
        self.state.environment = name;
        let shown = self.shown_spec(&written);
        self.state.set_spec(path, shown, false);
        self.restart_monitor();
    }

    /// Opens a compared column's environment in the checklist, on `entry`.
    pub(super) fn open_cell(&mut self, entry: usize, column: usize) {
        let Some(choice) = self
            .state
            .compare
            .as_ref()
            .and_then(|c| c.columns.get(column))
            .map(|c| c.choice.clone())
        else {
            return;
        };
        self.toggle_compare();
        match choice {
            Choice::Declared(name) => self.set_environment(Some(name)),
            Choice::Context(context) => {
                self.state.remembered.context = Some(context);
                self.set_environment(None);
            }
            Choice::Profile { profile, region } => {
                self.state.remembered.profile = Some(profile);
                self.state.remembered.region.clone_from(&region);
                self.state.region_draft = region.unwrap_or_default();
                self.set_environment(None);
            }
        }
        self.state.selected = Some(entry);
    }

    pub(super) fn select_cell(&mut self, cell: Option<(usize, usize)>) {
        if let Some(compare) = self.state.compare.as_mut() {
            compare.selected = cell;
        }
    }

    /// Tells every compared environment's monitor.
    pub(super) fn send_compared(&self, command: &MonitorCommand) {
        for (monitor, _) in &self.compared {
            monitor.send(command.clone());
        }
    }

    /// Folds each column's own events in.
    pub(super) fn drain_compared(&mut self) {
        let Some(compare) = self.state.compare.as_mut() else { return };
        for ((_, events), column) in self.compared.iter_mut().zip(compare.columns.iter_mut()) {
            while let Ok(event) = events.try_recv() {
                column.apply(event);
            }
        }
    }
}
