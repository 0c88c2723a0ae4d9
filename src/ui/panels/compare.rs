//! "Compare environments": the environment picker, the matrix of secrets × environments
//! (each cell the row's state with its symbol and word) and, for the cell clicked, the same
//! details as the checklist's, written for that environment.

use eframe::egui::{self, RichText};

use crate::spec::{Platform, SecretSpec};
use crate::ui::actions::{UiAction, label};
use crate::ui::compare::{Choice, Column, Compare, offered};
use crate::ui::panels::ROW_HEIGHT;
use crate::ui::state::{AppState, Line};
use crate::ui::widgets::{state_color, state_words, symbol};

/// Width of the secrets' names; a longer name is cut (the whole name is in its tooltip).
const NAME_WIDTH: f32 = 220.0;

/// Width of one environment's column.
const COLUMN_WIDTH: f32 = 170.0;

/// The picker (when open) and the matrix.
pub fn compare_ui(ui: &mut egui::Ui, state: &AppState, actions: &mut Vec<UiAction>) {
    let (Some(spec), Some(compare)) = (&state.spec, &state.compare) else { return };
    ui.horizontal_wrapped(|ui| {
        ui.heading("Compare environments");
        if ui.button(label::PICK_ENVIRONMENTS).clicked() {
            actions.push(UiAction::TogglePicker);
        }
        ui.label(
            RichText::new("each environment is its own connection; one that does not answer marks only its column")
                .weak()
                .small(),
        );
    });
    if compare.picking || compare.columns.is_empty() {
        picker_ui(ui, state, spec, compare, actions);
        ui.separator();
    }
    if compare.columns.is_empty() {
        ui.label(RichText::new("Pick the environments to compare above: the spec's own, kubeconfig contexts or AWS profiles.").weak());
        return;
    }
    matrix_ui(ui, state, spec, compare, actions);
}

/// A checkbox per environment offered (the spec's own, contexts, profile and region pairs),
/// then any compared one no longer offered, so it can be taken away.
fn picker_ui(
    ui: &mut egui::Ui,
    state: &AppState,
    spec: &SecretSpec,
    compare: &Compare,
    actions: &mut Vec<UiAction>,
) {
    let platform = state.selection.as_ref().map_or(spec.default_platform(), |s| s.platform);
    let aws = platform == Platform::Aws || spec.delivers_from_aws();
    let contexts: &[String] = if platform == Platform::Kubernetes { &state.contexts } else { &[] };
    let profiles: &[String] = if aws { &state.profiles } else { &[] };
    let region = state.remembered.region.as_deref();
    let offered = offered(spec, contexts, profiles, region);
    let others = compare.columns.iter().map(|c| &c.choice).filter(|c| !offered.contains(c));
    let listed: Vec<(Choice, bool)> = offered
        .iter()
        .map(|c| (c.clone(), true))
        .chain(others.map(|c| (c.clone(), false)))
        .collect();
    let profiles_heading = match region {
        Some(region) => format!("AWS profiles in {region}:"),
        None => "AWS profiles (each in its own region):".to_owned(),
    };
    let mut group = String::new();
    ui.horizontal_wrapped(|ui| {
        for (choice, offered) in listed {
            let heading = match &choice {
                _ if !offered => "Also compared:".to_owned(),
                Choice::Declared(_) => "Declared in the spec:".to_owned(),
                Choice::Context(_) => "Contexts:".to_owned(),
                Choice::Profile { .. } => profiles_heading.clone(),
            };
            if heading != group {
                ui.label(RichText::new(&heading).strong());
                group = heading;
            }
            let mut on = compare.columns.iter().any(|c| c.choice == choice);
            let hover = match &choice {
                Choice::Declared(name) => spec
                    .environment(name)
                    .and_then(|e| e.description.clone())
                    .unwrap_or_else(|| format!("The spec's environment {name}")),
                Choice::Context(name) => format!("The spec as written, in context {name}"),
                Choice::Profile { .. } => format!(
                    "The spec as written, with AWS {} (the region field above picks the region)",
                    choice.label()
                ),
            };
            if ui.checkbox(&mut on, choice.label()).on_hover_text(hover).changed() {
                actions.push(UiAction::SetCompared(choice, on));
            }
        }
    });
}

/// The matrix: a heading per environment, then a line per secret in the checklist's order.
/// The lines are virtualised like the checklist's (only the visible ones are laid out); the
/// headings scroll sideways with them.
fn matrix_ui(
    ui: &mut egui::Ui,
    state: &AppState,
    spec: &SecretSpec,
    compare: &Compare,
    actions: &mut Vec<UiAction>,
) {
    let Some(selection) = &state.selection else { return };
    let lines = state.lines();
    #[expect(clippy::cast_precision_loss, reason = "at most MOST_COLUMNS columns")]
    let width = NAME_WIDTH + COLUMN_WIDTH * compare.columns.len() as f32;
    let across = egui::ScrollArea::horizontal().id_salt("matrix-across");
    across.auto_shrink([false, false]).show(ui, |ui| {
        ui.set_min_width(width);
        ui.horizontal(|ui| {
            fixed(ui, NAME_WIDTH, 34.0, |ui| {
                ui.add_space(14.0 + ui.spacing().item_spacing.x);
                ui.label(RichText::new("Secret").strong());
            });
            for column in &compare.columns {
                fixed(ui, COLUMN_WIDTH, 34.0, |ui| {
                    // In line with the cells' text, which sits inside a button's padding.
                    ui.add_space(ui.spacing().button_padding.x);
                    ui.vertical(|ui| {
                        let heading = RichText::new(column.choice.label()).strong();
                        ui.add(egui::Label::new(heading).truncate())
                            .on_hover_text(column.connection_text());
                        let summary = RichText::new(column.summary(selection)).weak().small();
                        ui.add(egui::Label::new(summary).truncate());
                    });
                });
            }
        });
        ui.separator();
        let down = egui::ScrollArea::vertical().id_salt("matrix-down");
        down.auto_shrink([false, false]).show_rows(ui, ROW_HEIGHT, lines.len(), |ui, range| {
            let first = range.start;
            for (offset, line) in lines.get(range).unwrap_or_default().iter().enumerate() {
                match *line {
                    Line::Heading(group) => fixed(ui, width, ROW_HEIGHT, |ui| {
                        ui.label(RichText::new(group.title()).strong());
                    }),
                    Line::Entry(index) => {
                        let Some(entry) = spec.entries.get(index) else { continue };
                        if (first + offset) % 2 == 1 {
                            let stripe = egui::Rect::from_min_size(
                                ui.cursor().min,
                                egui::vec2(width, ROW_HEIGHT),
                            );
                            ui.painter().rect_filled(stripe, 0.0, ui.visuals().faint_bg_color);
                        }
                        fixed(ui, width, ROW_HEIGHT, |ui| {
                            name_ui(ui, compare, index, &entry.name, &entry.description);
                            for (at, column) in compare.columns.iter().enumerate() {
                                fixed(ui, COLUMN_WIDTH, ROW_HEIGHT, |ui| {
                                    cell_ui(ui, compare, column, index, at, actions);
                                });
                            }
                        });
                    }
                }
            }
        });
    });
}

/// A cell of exactly `width` × `height`, its content left to right and centred vertically.
fn fixed(ui: &mut egui::Ui, width: f32, height: f32, add: impl FnOnce(&mut egui::Ui)) {
    let layout = egui::Layout::left_to_right(egui::Align::Center);
    ui.allocate_ui_with_layout(egui::vec2(width, height), layout, |ui| {
        ui.set_min_size(egui::vec2(width, height));
        add(ui);
    });
}

/// The secret's name, marked when the environments disagree about it.
fn name_ui(ui: &mut egui::Ui, compare: &Compare, index: usize, name: &str, description: &str) {
    // Only answers count: a column still checking differs from nothing.
    let states: Vec<_> = compare
        .columns
        .iter()
        .filter_map(|c| c.rows.get(index))
        .map(|r| r.state())
        .filter(|s| *s != crate::detect::State::Checking)
        .collect();
    let differs = states.windows(2).any(|w| w.first() != w.get(1));
    fixed(ui, NAME_WIDTH, ROW_HEIGHT, |ui| {
        // The mark first, in a slot of its own, so names line up and a long one is cut.
        fixed(ui, 14.0, ROW_HEIGHT, |ui| {
            if differs {
                ui.label(RichText::new("≠").weak())
                    .on_hover_text("Not the same in every environment compared");
            }
        });
        ui.add(egui::Label::new(RichText::new(name).strong()).truncate())
            .on_hover_text(description);
    });
}

/// One cell: the state's symbol and word, coloured; click for its details.
fn cell_ui(
    ui: &mut egui::Ui,
    compare: &Compare,
    column: &Column,
    index: usize,
    at: usize,
    actions: &mut Vec<UiAction>,
) {
    let Some(row) = column.rows.get(index) else {
        ui.label("");
        return;
    };
    let state = row.state();
    let stale = row.outcome.as_ref().is_some_and(|o| o.stale.is_some());
    let due = row
        .outcome
        .as_ref()
        .zip(column.spec.entries.get(index))
        .and_then(|(o, entry)| crate::report::due(entry, o, std::time::SystemTime::now()))
        == Some(true);
    let mut text = format!("{} {}", symbol(state), state_words(state));
    if stale {
        text.push_str(" (stale)");
    }
    if due {
        text.push_str(", due");
    }
    let color = state_color(state, ui.visuals().dark_mode);
    let selected = compare.selected == Some((index, at));
    let detail = row.outcome.as_ref().and_then(|o| o.presence.detail()).unwrap_or_default();
    let hover = format!("In {}: {text}. {detail}", column.choice.label());
    let response =
        ui.selectable_label(selected, RichText::new(text).color(color)).on_hover_text(hover);
    if response.clicked() {
        actions.push(UiAction::SelectCell(if selected { None } else { Some((index, at)) }));
    }
}
