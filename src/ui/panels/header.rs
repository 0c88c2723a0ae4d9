//! The header: the deployment, the platform, where the operator is connected (context or
//! profile and region, with what the probe found), warnings, feature switches and progress.

use eframe::egui::{self, RichText};

use crate::commands;
use crate::detect::{Selection, State};
use crate::spec::{Platform, SecretSpec};
use crate::ui::actions::{UiAction, label};
use crate::ui::state::AppState;
use crate::ui::widgets::{path_entry_ui, spec_error_ui, state_color};

/// Deployment, platform, where you are connected, pickers, warnings, features, progress.
pub fn header_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    let (Some(spec), Some(selection)) = (&state.spec, &state.selection) else { return };
    if let Some(sandbox) = &state.sandbox {
        sandbox_ui(ui, sandbox);
    }
    title_ui(ui, state, spec, actions);
    path_entry_ui(ui, state, actions);
    ui.horizontal_wrapped(|ui| {
        if spec.platforms.len() > 1 {
            platforms_ui(ui, spec, selection.platform, actions);
            ui.separator();
        }
        environment_ui(ui, state, actions);
        match selection.platform {
            Platform::Kubernetes => {
                context_ui(ui, state, actions);
                // Values kept in AWS are looked up with an AWS profile too.
                if spec.delivers_from_aws() {
                    ui.separator();
                    profile_ui(ui, state, actions);
                }
            }
            Platform::Aws => profile_ui(ui, state, actions),
        }
        facts_ui(ui, state);
    });
    warnings_ui(ui, state);
    if !spec.features.is_empty() {
        features_ui(ui, state, spec, actions);
    }
    if let Some(error) = &state.spec_error {
        spec_error_ui(ui, error);
    }
    // The checklist's progress, cause and pastes; the matrix has its own per column.
    if state.compare.is_none() {
        progress_ui(ui, state);
        root_cause_ui(ui, state, spec, actions);
        batches_ui(ui, selection, spec, actions);
    }
}

/// One paste per step: every generated value of a backend (or plain Secret of a namespace),
/// and Sync now for every ExternalSecret.
fn batches_ui(
    ui: &mut egui::Ui,
    selection: &Selection,
    spec: &SecretSpec,
    actions: &mut Vec<UiAction>,
) {
    let batches = commands::batches(spec, selection.platform, Some(&selection.features));
    if batches.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("One paste:").weak());
        for (at, batch) in batches.iter().enumerate() {
            let hover = match batch.kind {
                commands::BatchKind::SyncAll => {
                    "Asks External Secrets to sync every ExternalSecret now (reads nothing)"
                }
                _ => "Copies every one of their create commands; values are made in the pipeline and never shown",
            };
            if ui.button(format!("Copy: {}", batch.title)).on_hover_text(hover).clicked() {
                actions.push(UiAction::CopyBatch(at));
            }
        }
    });
}

/// One cause blocking several values, told once, with the row to fix first.
fn root_cause_ui(
    ui: &mut egui::Ui,
    state: &AppState,
    spec: &SecretSpec,
    actions: &mut Vec<UiAction>,
) {
    let Some(root) = state.root_cause() else { return };
    let color = state_color(State::Wrong, ui.visuals().dark_mode);
    ui.add_space(4.0);
    egui::Frame::group(ui.style()).stroke(egui::Stroke::new(1.5, color)).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(RichText::new(root.headline()).color(color).strong());
        ui.label(&root.detail);
        if let Some(first) = &root.first {
            let row = spec.entries.iter().position(|e| e.name == *first);
            let link = ui.link(format!("Fix this first: {first}"));
            if link.on_hover_text("Show this secret's row").clicked() {
                actions.push(UiAction::Select(row));
            }
        }
    });
}

/// The deployment, the spec's path, Open and Close.
fn title_ui(ui: &mut egui::Ui, state: &AppState, spec: &SecretSpec, actions: &mut Vec<UiAction>) {
    ui.horizontal(|ui| {
        ui.heading(RichText::new(&spec.deployment).strong());
        ui.label(
            RichText::new(
                state.spec_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            )
            .weak()
            .small(),
        );
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button(label::CLOSE).clicked() {
                actions.push(UiAction::CloseSpec);
            }
            if ui.button(label::OPEN).on_hover_text("Ctrl+O").clicked() {
                actions.push(UiAction::OpenDialog);
            }
            let compare =
                if state.compare.is_some() { label::BACK_TO_CHECKLIST } else { label::COMPARE };
            let hover = "Every secret in several environments side by side (Ctrl+Shift+E)";
            if ui.button(compare).on_hover_text(hover).clicked() {
                actions.push(UiAction::ToggleCompare);
            }
        });
    });
}

/// The platforms the spec offers, as tabs.
fn platforms_ui(
    ui: &mut egui::Ui,
    spec: &SecretSpec,
    current: Platform,
    actions: &mut Vec<UiAction>,
) {
    for platform in &spec.platforms {
        let text = match platform {
            Platform::Kubernetes => "Kubernetes",
            Platform::Aws => "AWS",
        };
        if ui.selectable_label(current == *platform, text).clicked() && current != *platform {
            actions.push(UiAction::SetPlatform(*platform));
        }
    }
}

/// The environments the spec declares, when it declares some: the checklist shows the spec as
/// it reads in the one chosen (its backends' config, namespace), reached where it says.
fn environment_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    let Some(written) = state.written.as_ref().filter(|s| !s.environments.is_empty()) else {
        return;
    };
    let current = state.environment.as_deref().unwrap_or(label::AS_WRITTEN);
    let name = ui.label("Environment");
    egui::ComboBox::from_id_salt("environment")
        .selected_text(current)
        .show_ui(ui, |ui| {
            if ui.selectable_label(state.environment.is_none(), label::AS_WRITTEN).clicked() {
                actions.push(UiAction::SetEnvironment(None));
            }
            for env in &written.environments {
                let chosen = state.environment.as_deref() == Some(env.name.as_str());
                let mut item = ui.selectable_label(chosen, &env.name);
                if let Some(description) = &env.description {
                    item = item.on_hover_text(description);
                }
                if item.clicked() {
                    actions.push(UiAction::SetEnvironment(Some(env.name.clone())));
                }
            }
        })
        .response
        .labelled_by(name.id);
    ui.separator();
}

/// The kubeconfig context picker.
fn context_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    let current = state
        .command_target(Platform::Kubernetes)
        .kube_context
        .unwrap_or_else(|| "(current context)".to_owned());
    let name = ui.label("Context");
    egui::ComboBox::from_id_salt("context")
        .selected_text(&current)
        .show_ui(ui, |ui| {
            for context in &state.contexts {
                if ui.selectable_label(*context == current, context).clicked() {
                    actions.push(UiAction::SetContext(context.clone()));
                }
            }
        })
        .response
        .labelled_by(name.id);
}

/// The AWS profile picker and the region field.
fn profile_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    let current = state.remembered.profile.clone().unwrap_or_else(|| "(default)".to_owned());
    let name = ui.label("AWS profile");
    egui::ComboBox::from_id_salt("profile")
        .selected_text(&current)
        .show_ui(ui, |ui| {
            for profile in &state.profiles {
                if ui.selectable_label(*profile == current, profile).clicked() {
                    actions.push(UiAction::SetProfile(profile.clone()));
                }
            }
        })
        .response
        .labelled_by(name.id);
    let region_label = ui.label(label::REGION);
    let mut draft = state.region_draft.clone();
    let edit = ui
        .add(egui::TextEdit::singleline(&mut draft).desired_width(110.0).hint_text("profile's"))
        .labelled_by(region_label.id);
    if edit.changed() || (edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))) {
        actions.push(UiAction::SetRegion(draft));
    }
}

/// What the probe found about the connection, but the context or profile (the picker shows it).
fn facts_ui(ui: &mut egui::Ui, state: &AppState) {
    let Some(status) = &state.connection else { return };
    for (key, value) in status.facts() {
        if key == "Context" || key == "Profile" {
            continue;
        }
        ui.separator();
        ui.label(RichText::new(format!("{key}:")).weak());
        ui.label(value);
    }
}

/// Differences from what the spec expects, and connection problems.
/// The sandbox banner: this cluster is Greenlight's own, in memory.
fn sandbox_ui(ui: &mut egui::Ui, label: &str) {
    let color = state_color(State::Forbidden, ui.visuals().dark_mode);
    egui::Frame::new().stroke(egui::Stroke::new(1.5, color)).inner_margin(6.0).show(ui, |ui| {
        ui.label(RichText::new(format!("SANDBOX · {label}")).color(color).strong());
    });
}

fn warnings_ui(ui: &mut egui::Ui, state: &AppState) {
    let Some(status) = &state.connection else { return };
    for warning in &status.warnings {
        let color = state_color(State::Wrong, ui.visuals().dark_mode);
        ui.label(RichText::new(format!("⚠ {warning}")).color(color));
    }
}

/// The spec's feature switches.
fn features_ui(
    ui: &mut egui::Ui,
    state: &AppState,
    spec: &SecretSpec,
    actions: &mut Vec<UiAction>,
) {
    let Some(selection) = &state.selection else { return };
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Features:").weak());
        for feature in &spec.features {
            let mut on = selection.features.is_on(&feature.name);
            if ui.checkbox(&mut on, &feature.name).on_hover_text(&feature.description).changed() {
                actions.push(UiAction::SetFeature(feature.name.clone(), on));
            }
        }
    });
}

/// "5 of 7 required secrets present", or an unmistakable Ready.
fn progress_ui(ui: &mut egui::Ui, state: &AppState) {
    let progress = state.progress();
    let text = progress.text();
    ui.add_space(4.0);
    if state.ready {
        let color = state_color(State::Present, ui.visuals().dark_mode);
        egui::Frame::group(ui.style())
            .fill(color.gamma_multiply(0.18))
            .stroke(egui::Stroke::new(2.0, color))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(
                    RichText::new(format!("✔ Ready: {text}. The deployment can proceed."))
                        .color(color)
                        .size(18.0)
                        .strong(),
                );
            });
    } else {
        let fraction = if progress.total == 0 {
            1.0
        } else {
            progress.confirmed as f32 / progress.total as f32
        };
        ui.add(egui::ProgressBar::new(fraction).text(text).desired_width(ui.available_width()));
    }
}
