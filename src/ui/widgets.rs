//! Small shared pieces: state colours and badges, command blocks with a Copy button.

use eframe::egui::{self, Color32, RichText};

use super::actions::{UiAction, label};
use crate::detect::State;

/// Colour for a state; never the only signal (a symbol and a word go with it).
pub fn state_color(state: State, dark: bool) -> Color32 {
    match (state, dark) {
        (State::Present, true) => Color32::from_rgb(80, 200, 120),
        (State::Present, false) => Color32::from_rgb(20, 130, 60),
        (State::Missing, true) => Color32::from_rgb(240, 100, 90),
        (State::Missing, false) => Color32::from_rgb(190, 30, 30),
        (State::Wrong | State::FoundElsewhere, true) => Color32::from_rgb(240, 180, 70),
        (State::Wrong | State::FoundElsewhere, false) => Color32::from_rgb(170, 100, 0),
        (State::Forbidden, true) => Color32::from_rgb(190, 140, 250),
        (State::Forbidden, false) => Color32::from_rgb(110, 50, 170),
        (_, true) => Color32::from_gray(160),
        (_, false) => Color32::from_gray(100),
    }
}

/// Words shown for a state.
pub fn state_words(state: State) -> &'static str {
    match state {
        State::Checking => "checking",
        State::Present => "present",
        State::Wrong => "needs a fix",
        State::Missing => "missing",
        State::FoundElsewhere => "found elsewhere",
        State::Forbidden => "no permission",
        State::Unreachable => "cannot check",
        State::Skipped => "skipped",
        State::NotNeeded => "not needed",
    }
}

/// Symbol and word, coloured.
pub fn badge(ui: &mut egui::Ui, state: State, stale: bool) {
    let color = state_color(state, ui.visuals().dark_mode);
    let text = if stale {
        format!("{} {} (stale)", symbol(state), state_words(state))
    } else {
        format!("{} {}", symbol(state), state_words(state))
    };
    ui.label(RichText::new(text).color(color).strong());
}

/// A symbol the default fonts carry.
pub fn symbol(state: State) -> &'static str {
    match state {
        State::Present => "✔",
        State::Missing => "✖",
        State::Wrong => "⚠",
        State::FoundElsewhere => "⚠",
        State::Forbidden => "⛔",
        State::Unreachable => "？",
        State::Checking => "…",
        State::Skipped => "–",
        State::NotNeeded => "·",
    }
}

/// A command in a monospace block with a Copy button labelled `Copy <what>`.
pub fn command_ui(
    ui: &mut egui::Ui,
    what: &str,
    text: &str,
    entry: usize,
    actions: &mut Vec<UiAction>,
) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(what).strong());
        let copy = format!("{} {}", label::COPY, what.to_lowercase());
        if ui
            .button(&copy)
            .on_hover_text("Puts the command on the clipboard; it never contains a value")
            .clicked()
        {
            actions.push(UiAction::Copy {
                text: text.to_owned(),
                entry,
                what: what.to_lowercase(),
            });
        }
    });
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.add(egui::Label::new(RichText::new(text).monospace()).selectable(true).wrap());
    });
}

/// The spec's problems, with positions, in a red frame.
pub fn spec_error_ui(ui: &mut egui::Ui, error: &str) {
    let color = state_color(State::Missing, ui.visuals().dark_mode);
    egui::Frame::group(ui.style()).stroke(egui::Stroke::new(1.0, color)).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(
            RichText::new(
                "The spec file has problems; fix them and save, and it reloads by itself.",
            )
            .color(color)
            .strong(),
        );
        egui::ScrollArea::vertical().max_height(220.0).id_salt("spec-error").show(ui, |ui| {
            ui.label(RichText::new(error).monospace());
        });
    });
}

/// The path field offered when no file chooser can open: why, and where to type the path.
pub fn path_entry_ui(
    ui: &mut egui::Ui,
    state: &crate::ui::state::AppState,
    actions: &mut Vec<UiAction>,
) {
    let Some(draft) = &state.path_entry else { return };
    let color = state_color(State::Wrong, ui.visuals().dark_mode);
    ui.label(RichText::new(crate::ui::app::NO_CHOOSER).color(color));
    ui.horizontal(|ui| {
        let name = ui.label(label::PATH);
        let mut text = draft.clone();
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut text)
                    .id_salt("greenlight-path-entry")
                    .hint_text("/path/to/spec.yaml")
                    .desired_width(360.0),
            )
            .labelled_by(name.id);
        if draft.is_empty() && !edit.has_focus() && ui.memory(|m| m.focused().is_none()) {
            edit.request_focus();
        }
        if edit.changed() {
            actions.push(UiAction::SetPathDraft(text));
        }
        let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button(label::OPEN_PATH).clicked() || entered {
            actions.push(UiAction::OpenTypedPath);
        }
    });
}
