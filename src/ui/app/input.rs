//! Keyboard shortcuts and files dropped onto the window, turned into `UiAction`s.

use eframe::egui;

use super::GreenlightApp;
use crate::ui::actions::{ReportFormat, UiAction};

impl GreenlightApp {
    /// Keyboard shortcuts, and files dropped onto the window.
    pub(super) fn shortcuts(&mut self, ctx: &egui::Context) -> Vec<UiAction> {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let mut actions = Vec::new();
        let typing = ctx.memory(|m| m.focused().is_some_and(|id| id == self.filter_id));
        ctx.input_mut(|i| {
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::O)) {
                actions.push(UiAction::OpenDialog);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::NONE, Key::F5))
                || i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::R))
            {
                actions.push(UiAction::CheckNow);
            }
            // Before Ctrl+E, which Ctrl+Shift+E would also match.
            if i.consume_shortcut(&KeyboardShortcut::new(
                Modifiers::COMMAND | Modifiers::SHIFT,
                Key::E,
            )) {
                actions.push(UiAction::ToggleCompare);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::E)) {
                actions.push(UiAction::Export(ReportFormat::Markdown));
            }
            if i.consume_shortcut(&KeyboardShortcut::new(
                Modifiers::COMMAND | Modifiers::SHIFT,
                Key::C,
            )) {
                actions.push(UiAction::CopySelectedCreate);
            }
            if !typing {
                if i.consume_key(Modifiers::NONE, Key::ArrowDown)
                    || i.consume_key(Modifiers::NONE, Key::J)
                {
                    actions.push(UiAction::MoveSelection(1));
                }
                if i.consume_key(Modifiers::NONE, Key::ArrowUp)
                    || i.consume_key(Modifiers::NONE, Key::K)
                {
                    actions.push(UiAction::MoveSelection(-1));
                }
                if i.consume_key(Modifiers::NONE, Key::Escape) {
                    actions.push(UiAction::Select(None));
                }
            }
            if let Some(path) = i
                .raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .find(|p| !p.as_os_str().is_empty())
            {
                actions.push(UiAction::OpenPath(path));
            }
        });
        if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::F)))
        {
            ctx.memory_mut(|m| m.request_focus(self.filter_id));
        }
        actions
    }
}
