//! The checklist: the filter field, group headings and one line per secret, virtualised so a
//! spec of thousands of secrets draws only the visible rows.

use eframe::egui::{self, RichText};

use crate::ui::actions::{UiAction, label};
use crate::ui::state::{AppState, Line};
use crate::ui::widgets::badge;

/// Height of one checklist line.
pub const ROW_HEIGHT: f32 = 26.0;

/// The checklist: group headings and one line per secret, virtualised.
pub fn checklist_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    let Some(spec) = &state.spec else { return };
    let lines = state.lines();
    if lines.is_empty() {
        ui.label(RichText::new("No secret matches the filter.").weak());
        return;
    }
    egui::ScrollArea::vertical().auto_shrink([false, false]).show_rows(
        ui,
        ROW_HEIGHT,
        lines.len(),
        |ui, range| {
            for line in lines.get(range).unwrap_or_default() {
                match *line {
                    Line::Heading(group) => {
                        ui.allocate_ui(egui::vec2(ui.available_width(), ROW_HEIGHT), |ui| {
                            ui.horizontal_centered(|ui| {
                                ui.label(RichText::new(group.title()).strong().size(15.0))
                            });
                        });
                    }
                    Line::Entry(index) => {
                        let (Some(entry), Some(row)) =
                            (spec.entries.get(index), state.rows.get(index))
                        else {
                            continue;
                        };
                        let selected = state.selected == Some(index);
                        let location = state
                            .selection
                            .as_ref()
                            .and_then(|s| entry.placement(s.platform))
                            .map(|p| p.describe())
                            .unwrap_or_default();
                        let response = ui
                            .allocate_ui(egui::vec2(ui.available_width(), ROW_HEIGHT), |ui| {
                                ui.horizontal_centered(|ui| {
                                    ui.add_space(8.0);
                                    ui.allocate_ui(egui::vec2(150.0, ROW_HEIGHT), |ui| {
                                        badge(
                                            ui,
                                            row.state(),
                                            row.outcome.as_ref().is_some_and(|o| o.stale.is_some()),
                                        );
                                    });
                                    let name = ui
                                        .selectable_label(
                                            selected,
                                            RichText::new(&entry.name).strong(),
                                        )
                                        .on_hover_text(&location);
                                    ui.label(RichText::new(&entry.description).weak());
                                    name
                                })
                                .inner
                            })
                            .inner;
                        if response.clicked() {
                            actions.push(UiAction::Select(if selected {
                                None
                            } else {
                                Some(index)
                            }));
                        }
                    }
                }
            }
        },
    );
}

/// The filter field.
pub fn filter_ui(
    ui: &mut egui::Ui,
    state: &AppState,
    actions: &mut Vec<UiAction>,
    filter_id: egui::Id,
) {
    let mut text = state.filter.clone();
    ui.horizontal(|ui| {
        let name = ui.label(label::FILTER);
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut text)
                    .id(filter_id)
                    .hint_text("name, purpose, namespace or Secret (Ctrl+F)")
                    .desired_width(240.0),
            )
            .labelled_by(name.id);
        if edit.changed() {
            actions.push(UiAction::SetFilter(text.clone()));
        }
    });
}
