//! The window's layout: which panel goes where. The panels themselves are in `ui::panels`.

use eframe::egui;

use super::GreenlightApp;
use crate::ui::actions::{UiAction, label};
use crate::ui::panels;

/// The narrowest the checklist and the details may become beside each other.
const LIST_MIN: f32 = 380.0;
const DETAILS_MIN: f32 = 320.0;

impl GreenlightApp {
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
        if let Some(compare) = &state.compare {
            let cell = compare.selected.and_then(|(index, at)| {
                let column = compare.columns.get(at)?;
                Some((index, at, column, column.rows.get(index)?))
            });
            if let Some((index, at, column, row)) = cell {
                let most = (ui.available_width() - LIST_MIN).max(DETAILS_MIN);
                let shown = column.as_app_state(state);
                egui::Panel::right("cell")
                    .resizable(true)
                    .default_size(460.0_f32.min(most))
                    .min_size(DETAILS_MIN)
                    .max_size(most)
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            let place = format!("In {}", column.choice.label());
                            ui.label(egui::RichText::new(place).strong());
                            let open = ui.button(label::OPEN_IN_CHECKLIST).on_hover_text(
                                "Work on this environment in the checklist, on this secret",
                            );
                            if open.clicked() {
                                actions.push(UiAction::OpenCell(index, at));
                            }
                        });
                        panels::details_ui(ui, &shown, index, row, &mut actions);
                    });
            }
            egui::CentralPanel::default().show(ui, |ui| {
                panels::compare_ui(ui, state, &mut actions);
            });
            return actions;
        }
        if let Some((index, row)) = state.selected.and_then(|i| Some((i, state.rows.get(i)?))) {
            // The list keeps at least LIST_MIN of the width; the details wrap within the rest.
            let most = (ui.available_width() - LIST_MIN).max(DETAILS_MIN);
            egui::Panel::right("details")
                .resizable(true)
                .default_size(460.0_f32.min(most))
                .min_size(DETAILS_MIN)
                .max_size(most)
                .show(ui, |ui| {
                    panels::details_ui(ui, state, index, row, &mut actions);
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            panels::filter_ui(ui, state, &mut actions, self.filter_id);
            ui.add_space(4.0);
            panels::checklist_ui(ui, state, &mut actions);
        });
        actions
    }
}
