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
        ui.add_space(8.0);
        if ui
            .button(label::FROM_MANIFESTS)
            .on_hover_text("Vendors: draft a spec from your rendered manifests (helm template, kustomize build, a folder of YAML)")
            .clicked()
        {
            actions.push(UiAction::StartDraft);
        }
    });
    if state.manifests_entry.is_some() || state.draft.is_some() {
        ui.add_space(12.0);
        draft_ui(ui, state, actions);
    }
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

/// "New spec from manifests…": where the manifests are, then the draft to review and save.
fn draft_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    ui.group(|ui| {
        ui.heading("New spec from manifests");
        ui.label("Greenlight reads the deployment's rendered manifests (the output of `helm template` or `kustomize build`, or a folder of YAML) and drafts a spec: the Secrets the workloads read, and what External Secrets delivers. It never reads a value.");
        ui.horizontal_wrapped(|ui| {
            let name = ui.label(label::MANIFESTS_PATH);
            let mut text = state.manifests_entry.clone().unwrap_or_default();
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut text)
                        .id_salt("greenlight-manifests-entry")
                        .hint_text("/path/to/rendered.yaml or a folder")
                        .desired_width(320.0),
                )
                .labelled_by(name.id);
            if state.draft.is_none()
                && text.is_empty()
                && !edit.has_focus()
                && ui.memory(|m| m.focused().is_none())
            {
                edit.request_focus();
            }
            if edit.changed() {
                actions.push(UiAction::SetManifestsPath(text));
            }
            let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button(label::DRAFT).clicked() || entered {
                actions.push(UiAction::DraftTyped);
            }
            if ui.button(label::CHOOSE_FILE).clicked() {
                actions.push(UiAction::ChooseManifests(false));
            }
            if ui.button(label::CHOOSE_FOLDER).clicked() {
                actions.push(UiAction::ChooseManifests(true));
            }
        });
        if let Some(error) = &state.draft_error {
            let color = crate::ui::widgets::state_color(crate::detect::State::Wrong, ui.visuals().dark_mode);
            ui.label(RichText::new(error).color(color));
        }
        let Some(draft) = &state.draft else { return };
        ui.separator();
        ui.label(RichText::new(format!("Drafted from {}", draft.source.display())).strong());
        for line in &draft.summary {
            ui.label(line);
        }
        let todo = draft.todo;
        if todo > 0 {
            ui.label(format!(
                "{todo} place{} marked TODO only you can fill in (descriptions, a store not in the manifests); the spec opens with them listed.",
                if todo == 1 { " is" } else { "s are" }
            ));
        }
        ui.horizontal(|ui| {
            if ui.button(label::SAVE_DRAFT).clicked() {
                actions.push(UiAction::SaveDraft);
            }
            if ui.button(label::DISCARD_DRAFT).clicked() {
                actions.push(UiAction::DiscardDraft);
            }
        });
        egui::ScrollArea::vertical().id_salt("greenlight-draft").max_height(320.0).show(ui, |ui| {
            let mut shown = draft.text.as_str();
            ui.add(egui::TextEdit::multiline(&mut shown).code_editor().desired_width(f32::INFINITY));
        });
    });
}
