//! The selected secret's details: what it is for, where it must live, what was found and
//! how to fix it, and its create, verify and rotate commands with Copy buttons.

use eframe::egui::{self, RichText};

use crate::commands::{self, Shell};
use crate::detect::delivery::Hop;
use crate::detect::{CheckOutcome, Permission, Selection, State};
use crate::diagnose::{Fix, Shown};
use crate::spec::{Placement, Platform, Provider, SecretEntry};
use crate::ui::actions::{UiAction, label};
use crate::ui::state::{AppState, RowState};
use crate::ui::widgets::{badge, command_ui, state_color, symbol};

/// Everything about the selected secret (entry `index`, whose state is `row`): where, commands
/// with Copy, hints, docs, skip.
pub fn details_ui(
    ui: &mut egui::Ui,
    state: &AppState,
    index: usize,
    row: &RowState,
    actions: &mut Vec<UiAction>,
) {
    let (Some(spec), Some(selection)) = (&state.spec, &state.selection) else { return };
    let Some(entry) = spec.entries.get(index) else { return };
    egui::ScrollArea::vertical().id_salt("details").auto_shrink([false, false]).show(ui, |ui| {
        about_ui(ui, entry, row, selection, actions);
        ui.separator();
        placement_ui(ui, entry, selection.platform);
        if let Some(outcome) = &row.outcome {
            ui.separator();
            diagnosis_ui(ui, state, entry, selection.platform, outcome, index, actions);
        }
        ui.separator();
        commands_ui(ui, state, entry, selection.platform, index, actions);
    });
}

/// Name, state, purpose, who provides it, when it is needed, docs, skip.
fn about_ui(
    ui: &mut egui::Ui,
    entry: &SecretEntry,
    row: &RowState,
    selection: &Selection,
    actions: &mut Vec<UiAction>,
) {
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
    let required = if entry.required { "Required." } else { "Optional." };
    ui.label(RichText::new(format!("{required} {who}")).weak());
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
}

/// Where it must live on the chosen platform.
fn placement_ui(ui: &mut egui::Ui, entry: &SecretEntry, platform: Platform) {
    ui.label(RichText::new("Where it must live").strong());
    let rows: Vec<(&str, String)> = match entry.placement(platform) {
        Some(Placement::Kubernetes(k)) => {
            let mut rows = vec![
                ("Namespace", k.namespace.clone()),
                ("Secret", k.secret.clone()),
                ("Keys", k.keys.join(", ")),
            ];
            if let Some(kind) = &k.secret_type {
                rows.push(("Type", kind.clone()));
            }
            rows
        }
        Some(Placement::Aws(a)) => vec![
            ("Service", a.service.title().to_owned()),
            ("Name", a.name.clone()),
            ("Region", a.region.clone().unwrap_or_else(|| "(profile's)".to_owned())),
        ],
        Some(Placement::Delivered(d)) => {
            let mut rows = vec![("Backend", d.source.describe())];
            for t in &d.targets {
                let keys = t.fed.join(", ");
                let via = format!(
                    "{}/{} (key {keys}, by ExternalSecret {})",
                    t.namespace, t.secret, t.external_secret
                );
                rows.push(("Delivered to", via));
            }
            if let Some(command) = &d.create_with {
                rows.push(("Created by", command.clone()));
            }
            rows
        }
        None => Vec::new(),
    };
    egui::Grid::new("where").num_columns(2).show(ui, |ui| {
        for (what, value) in rows {
            ui.label(what);
            ui.add(egui::Label::new(RichText::new(value).monospace()).wrap());
            ui.end_row();
        }
    });
}

/// When the value last changed (from its backend's metadata), and whether it is due for
/// rotation by the spec's `rotate_every`.
fn age_ui(ui: &mut egui::Ui, entry: &SecretEntry, outcome: &CheckOutcome) {
    let changed = outcome.changed_at.map(|at| humantime::format_rfc3339_seconds(at).to_string());
    let due = crate::report::due(entry, outcome, std::time::SystemTime::now());
    match (changed, due, entry.rotate_every) {
        (Some(at), Some(true), Some(every)) => {
            let color = state_color(State::Wrong, ui.visuals().dark_mode);
            let every = crate::report::period(every);
            let text = format!(
                "⚠ Due for rotation: last changed {at}; rotate every {every} (the Rotate command is below)"
            );
            ui.label(RichText::new(text).color(color));
        }
        (Some(at), _, _) => {
            ui.label(format!("Value last changed {at} (from the backend's metadata)"));
        }
        (None, _, _) if outcome.change_seen_at.is_some() => {
            let at = outcome.change_seen_at.map(humantime::format_rfc3339_seconds);
            ui.label(format!(
                "Created or changed at {}, seen while Greenlight watched. Kubernetes keeps no last-change time, so changes before that (and whether this one was the value or only a label) are not known.",
                at.map(|a| a.to_string()).unwrap_or_default()
            ));
        }
        (None, _, Some(_)) if outcome.presence == crate::detect::Presence::Present => {
            ui.label("Age not known: the backend keeps no last-change time Greenlight can read without the value.");
        }
        _ => {}
    }
}

/// What was found, whether it is stale, and the hints with their fix commands.
fn diagnosis_ui(
    ui: &mut egui::Ui,
    state: &AppState,
    entry: &SecretEntry,
    platform: Platform,
    outcome: &CheckOutcome,
    index: usize,
    actions: &mut Vec<UiAction>,
) {
    if let Some(detail) = outcome.presence.detail() {
        ui.label(RichText::new(detail).strong());
    }
    if let Some(stale) = &outcome.stale {
        ui.label(RichText::new(format!("Showing the last known state: {stale}")).italics());
    }
    if !outcome.hops.is_empty() {
        chain_ui(ui, &outcome.hops);
    }
    age_ui(ui, entry, outcome);
    if let Some(write) = &outcome.write {
        let (symbol, state) = match write.can_create {
            Permission::Yes => ("✔", State::Present),
            Permission::No => ("✖", State::Missing),
            Permission::Unknown => ("？", State::Unreachable),
        };
        let color = state_color(state, ui.visuals().dark_mode);
        ui.label(RichText::new(format!("{symbol} Can create: {}", write.reason)).color(color));
    }
    // A hint whose fix is one of the entry's own commands points at it below; other fixes
    // are written for the chosen shell and target, numbered from 1 as shown.
    let Some(selection) = &state.selection else { return };
    let target = state.command_target(platform);
    let at = Shown {
        entry,
        platform,
        target: &target,
        shell: state.shell,
        features: &selection.features,
    };
    let mut shown = 0;
    for hint in &outcome.hints {
        match &hint.fix {
            Some(Fix::Entry(kind)) => {
                ui.label(format!(
                    "{} (the {} command is below)",
                    hint.text.trim_end_matches(':'),
                    kind.title()
                ));
            }
            Some(fix) => {
                ui.label(&hint.text);
                match fix.render(&at) {
                    Ok(Some(command)) => {
                        shown += 1;
                        command_ui(ui, &format!("Fix {shown}"), &command, index, actions);
                    }
                    Ok(None) => {}
                    Err(error) => {
                        ui.label(
                            RichText::new(error.to_string())
                                .color(state_color(State::Missing, ui.visuals().dark_mode)),
                        );
                    }
                }
            }
            None => {
                ui.label(&hint.text);
            }
        }
    }
}

/// Each hop of a delivered value's chain with its state: backend, External Secrets, store,
/// and per target the ExternalSecret and the Secret.
fn chain_ui(ui: &mut egui::Ui, hops: &[Hop]) {
    ui.label(RichText::new("Delivery chain").strong());
    let dark = ui.visuals().dark_mode;
    egui::Grid::new("chain").num_columns(2).striped(true).show(ui, |ui| {
        for hop in hops {
            let tone = hop.state.tone();
            let word = hop.state.as_str().replace('_', " ");
            ui.label(
                RichText::new(format!("{} {word}", symbol(tone))).color(state_color(tone, dark)),
            );
            // Where, and what was seen there, one under the other: both wrap in a narrow panel.
            ui.vertical(|ui| {
                ui.add(egui::Label::new(RichText::new(&hop.location).monospace()).wrap());
                if let Some(detail) = hop.detail.as_deref().filter(|d| !d.is_empty()) {
                    ui.add(egui::Label::new(RichText::new(detail).weak()).wrap());
                }
            });
            ui.end_row();
        }
    });
}

/// The create, verify and rotate commands for the chosen shell, each with a Copy button.
fn commands_ui(
    ui: &mut egui::Ui,
    state: &AppState,
    entry: &SecretEntry,
    platform: Platform,
    index: usize,
    actions: &mut Vec<UiAction>,
) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Commands for").strong());
        for shell in [Shell::Posix, Shell::PowerShell] {
            if ui.selectable_label(state.shell == shell, shell.title()).clicked() {
                actions.push(UiAction::SetShell(shell));
            }
        }
    });
    match commands::for_entry(entry, platform, &state.command_target(platform), state.shell) {
        Ok(fixes) => {
            for fix in fixes {
                command_ui(ui, fix.kind.title(), &fix.text, index, actions);
            }
        }
        Err(error) => {
            ui.label(
                RichText::new(error.to_string())
                    .color(state_color(State::Missing, ui.visuals().dark_mode)),
            );
        }
    }
}
