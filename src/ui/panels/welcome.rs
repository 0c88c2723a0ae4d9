//! The welcome screen: open a spec (dialog, drop, recent files) or a bundled example.

use eframe::egui::{self, RichText};

use crate::ui::actions::{UiAction, label};
use crate::ui::state::AppState;
use crate::ui::widgets::{path_entry_ui, spec_error_ui};

/// Shown when no spec is open.
pub fn welcome_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    ui.vertical_centered(|ui| {
        ui.add_space(24.0);
        ui.heading(RichText::new("Greenlight").size(30.0));
        ui.label("Create the secrets a deployment needs in your own cluster or AWS account, and watch each one turn green. Greenlight never reads a secret value.");
        ui.add_space(16.0);
        if ui.add(egui::Button::new(RichText::new(label::OPEN).size(18.0))).on_hover_text("Ctrl+O").clicked() {
            actions.push(UiAction::OpenDialog);
        }
        ui.label(RichText::new("…or drop a spec file (YAML or JSON) onto this window.").weak());
    });
    if state.path_entry.is_some() {
        ui.add_space(12.0);
        path_entry_ui(ui, state, actions);
    }
    if let Some(error) = &state.spec_error {
        ui.add_space(12.0);
        spec_error_ui(ui, error);
    }
    ui.add_space(20.0);
    ui.columns(2, |columns| {
        if let Some(ui) = columns.get_mut(0) {
            ui.heading("Recent");
            if state.remembered.recent.is_empty() {
                ui.label(RichText::new("Specs you open appear here.").weak());
            }
            for path in &state.remembered.recent {
                if ui.link(path.display().to_string()).clicked() {
                    actions.push(UiAction::OpenPath(path.clone()));
                }
            }
        }
        if let Some(ui) = columns.get_mut(1) {
            ui.heading("Examples");
            for example in crate::spec::examples::EXAMPLES {
                if ui.link(example.title).clicked() {
                    actions.push(UiAction::OpenExample(example.file));
                }
            }
        }
    });
}
