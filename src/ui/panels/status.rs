//! The status bar (Check now, freshness, notices, export) and the activity log above it.

use eframe::egui::{self, RichText};

use crate::ui::actions::{ReportFormat, UiAction, label};
use crate::ui::state::AppState;

/// Check now, freshness, export, activity toggle, notices.
pub fn status_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    ui.horizontal(|ui| {
        if ui.button(label::CHECK_NOW).on_hover_text("F5").clicked() {
            actions.push(UiAction::CheckNow);
        }
        ui.label(RichText::new(state.freshness()).weak());
        if let Some((notice, _)) = &state.notice {
            ui.separator();
            ui.label(RichText::new(notice).strong());
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.selectable_label(state.show_log, label::ACTIVITY).clicked() {
                actions.push(UiAction::ToggleLog);
            }
            if ui.button(label::COPY_REPORT).on_hover_text("Markdown, without any value").clicked()
            {
                actions.push(UiAction::CopyReport);
            }
            if ui.button(label::EXPORT_JSON).clicked() {
                actions.push(UiAction::Export(ReportFormat::Json));
            }
            if ui.button(label::EXPORT_MARKDOWN).on_hover_text("Ctrl+E").clicked() {
                actions.push(UiAction::Export(ReportFormat::Markdown));
            }
        });
    });
}

/// The activity log, newest first.
pub fn log_ui(ui: &mut egui::Ui, state: &AppState) {
    egui::ScrollArea::vertical().id_salt("log").max_height(140.0).auto_shrink([false, true]).show(
        ui,
        |ui| {
            if state.log.is_empty() {
                ui.label(RichText::new("Changes appear here as Greenlight detects them.").weak());
            }
            for line in state.log.iter().rev() {
                let at = humantime::format_rfc3339_seconds(line.at).to_string();
                ui.label(
                    RichText::new(format!("{}  {}", at.get(11..19).unwrap_or(&at), line.text))
                        .monospace()
                        .small(),
                );
            }
        },
    );
}
