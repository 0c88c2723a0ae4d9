//! The window's parts, each a `*_ui` function that draws from `AppState` and pushes
//! `UiAction`s: welcome, header (where you are), checklist, details, status bar, log.

use eframe::egui::{self, RichText};

use super::actions::{ReportFormat, UiAction, label};
use super::state::{AppState, Line};
use super::widgets::{badge, command_ui, state_color};
use crate::commands::{self, CommandKind, Shell};
use crate::detect::State;
use crate::spec::{Placement, Platform, Provider};

/// Bundled examples: (button label, file name).
pub const EXAMPLES: [(&str, &str); 3] = [
    ("Quickstart (Kubernetes and AWS)", "quickstart.yaml"),
    ("Platform secret contract (16 secrets, features)", "platform-contract.yaml"),
    ("Doppler and External Secrets (JSON)", "doppler-eso.json"),
];

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
            for (title, file) in EXAMPLES {
                if ui.link(title).clicked() {
                    actions.push(UiAction::OpenExample(file));
                }
            }
        }
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

/// Deployment, platform, where you are connected, pickers, warnings, features, progress.
pub fn header_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    let (Some(spec), Some(selection)) = (&state.spec, &state.selection) else { return };
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
        });
    });
    ui.horizontal_wrapped(|ui| {
        if spec.platforms.len() > 1 {
            for platform in &spec.platforms {
                let text = match platform {
                    Platform::Kubernetes => "Kubernetes",
                    Platform::Aws => "AWS",
                };
                if ui.selectable_label(selection.platform == *platform, text).clicked()
                    && selection.platform != *platform
                {
                    actions.push(UiAction::SetPlatform(*platform));
                }
            }
            ui.separator();
        }
        match selection.platform {
            Platform::Kubernetes => {
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
            Platform::Aws => {
                let current =
                    state.remembered.profile.clone().unwrap_or_else(|| "(default)".to_owned());
                let name = ui.label("Profile");
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
                    .add(
                        egui::TextEdit::singleline(&mut draft)
                            .desired_width(110.0)
                            .hint_text("profile's"),
                    )
                    .labelled_by(region_label.id);
                if edit.changed()
                    || (edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)))
                {
                    actions.push(UiAction::SetRegion(draft));
                }
            }
        }
        if let Some(status) = &state.connection {
            for (key, value) in status.facts() {
                if key == "Context" || key == "Profile" {
                    continue;
                }
                ui.separator();
                ui.label(RichText::new(format!("{key}:")).weak());
                ui.label(value);
            }
        }
    });
    if let Some(status) = &state.connection {
        for warning in &status.warnings {
            let color = state_color(State::Wrong, ui.visuals().dark_mode);
            ui.label(RichText::new(format!("⚠ {warning}")).color(color));
        }
    }
    if !spec.features.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Features:").weak());
            for feature in &spec.features {
                let mut on = selection.features.is_on(&feature.name);
                if ui.checkbox(&mut on, &feature.name).on_hover_text(&feature.description).changed()
                {
                    actions.push(UiAction::SetFeature(feature.name.clone(), on));
                }
            }
        });
    }
    if let Some(error) = &state.spec_error {
        spec_error_ui(ui, error);
    }
    progress_ui(ui, state);
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

/// Everything about the selected secret: where, commands with Copy, hints, docs, skip.
pub fn details_ui(ui: &mut egui::Ui, state: &AppState, index: usize, actions: &mut Vec<UiAction>) {
    let (Some(spec), Some(selection)) = (&state.spec, &state.selection) else { return };
    let (Some(entry), Some(row)) = (spec.entries.get(index), state.rows.get(index)) else { return };
    egui::ScrollArea::vertical().id_salt("details").auto_shrink([false, false]).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading(RichText::new(&entry.name).strong());
            badge(ui, row.state(), row.outcome.as_ref().is_some_and(|o| o.stale.is_some()));
        });
        ui.label(&entry.description);
        let who = match entry.provided_by {
            Provider::Customer => "You provide the value.",
            Provider::Vendor => "The vendor's deployment provides it; nothing to do.",
            Provider::Generated => {
                "A random value, made in your own shell by the command below; nobody sees it."
            }
        };
        ui.label(
            RichText::new(format!(
                "{} {who}",
                if entry.required { "Required." } else { "Optional." }
            ))
            .weak(),
        );
        if !entry.when.is_empty() {
            ui.label(RichText::new(format!("Needed when: {}", entry.when.join(" and "))).weak());
        }
        if let Some(docs) = &entry.docs {
            ui.hyperlink_to("How to get this value", docs);
        }
        if !entry.required {
            let skipped = selection.skipped.contains(&entry.name);
            let text = if skipped { label::UNSKIP } else { label::SKIP };
            if ui.button(text).clicked() {
                actions.push(UiAction::SetSkipped(entry.name.clone(), !skipped));
            }
        }
        ui.separator();
        ui.label(RichText::new("Where it must live").strong());
        match entry.placement(selection.platform) {
            Some(Placement::Kubernetes(k)) => {
                egui::Grid::new("where").num_columns(2).show(ui, |ui| {
                    ui.label("Namespace");
                    ui.monospace(&k.namespace);
                    ui.end_row();
                    ui.label("Secret");
                    ui.monospace(&k.secret);
                    ui.end_row();
                    ui.label("Keys");
                    ui.monospace(k.keys.join(", "));
                    ui.end_row();
                    if let Some(kind) = &k.secret_type {
                        ui.label("Type");
                        ui.monospace(kind);
                        ui.end_row();
                    }
                });
            }
            Some(Placement::Aws(a)) => {
                egui::Grid::new("where").num_columns(2).show(ui, |ui| {
                    ui.label("Service");
                    ui.label(a.service.title());
                    ui.end_row();
                    ui.label("Name");
                    ui.monospace(&a.name);
                    ui.end_row();
                    ui.label("Region");
                    ui.monospace(a.region.as_deref().unwrap_or("(profile's)"));
                    ui.end_row();
                });
            }
            None => {}
        }
        if let Some(outcome) = &row.outcome {
            ui.separator();
            if let Some(detail) = outcome.presence.detail() {
                ui.label(RichText::new(detail).strong());
            }
            if let Some(stale) = &outcome.stale {
                ui.label(RichText::new(format!("Showing the last known state: {stale}")).italics());
            }
            // Hints carry POSIX commands; the entry's own commands are shown below for the
            // chosen shell, so a hint that repeats one points there instead.
            let own: Vec<String> = commands::for_entry(
                entry,
                selection.platform,
                &state.command_target(selection.platform),
                Shell::Posix,
            )
            .map(|c| c.into_iter().map(|c| c.text).collect())
            .unwrap_or_default();
            for (n, hint) in outcome.hints.iter().enumerate() {
                match &hint.command {
                    Some(command) if own.contains(command) => {
                        ui.label(format!(
                            "{} (the commands are below)",
                            hint.text.trim_end_matches(':')
                        ));
                    }
                    Some(command) => {
                        ui.label(&hint.text);
                        command_ui(ui, &format!("Fix {}", n + 1), command, index, actions);
                    }
                    None => {
                        ui.label(&hint.text);
                    }
                }
            }
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(RichText::new("Commands for").strong());
            for shell in [Shell::Posix, Shell::PowerShell] {
                if ui.selectable_label(state.shell == shell, shell.title()).clicked() {
                    actions.push(UiAction::SetShell(shell));
                }
            }
        });
        let target = state.command_target(selection.platform);
        match commands::for_entry(entry, selection.platform, &target, state.shell) {
            Ok(fixes) => {
                for fix in fixes {
                    let what = match fix.kind {
                        CommandKind::Create => "Create",
                        CommandKind::Verify => "Verify",
                        CommandKind::Rotate => "Rotate",
                    };
                    command_ui(ui, what, &fix.text, index, actions);
                }
            }
            Err(error) => {
                ui.label(
                    RichText::new(error.to_string())
                        .color(state_color(State::Missing, ui.visuals().dark_mode)),
                );
            }
        }
    });
}

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
                    .hint_text("name or purpose (Ctrl+F)")
                    .desired_width(240.0),
            )
            .labelled_by(name.id);
        if edit.changed() {
            actions.push(UiAction::SetFilter(text.clone()));
        }
    });
}
