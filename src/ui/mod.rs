//! The desktop app (egui/eframe): the live checklist an operator opens a spec in and follows
//! to green. Only this module uses egui, eframe or rfd; it drives the engine through the
//! monitor's command and event channels.

pub mod actions;
pub mod app;
pub mod compare;
pub mod panels;
pub mod state;
pub mod widgets;

use eframe::egui;

pub use app::{AppOptions, GreenlightApp};

/// Opens the window (blocking until it closes), as `app_options` say.
pub fn run(app_options: AppOptions) -> Result<(), String> {
    let runtime = crate::detect::runtime()?;
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Greenlight")
        .with_app_id("greenlight")
        .with_inner_size([1180.0, 760.0])
        .with_min_inner_size([720.0, 460.0])
        .with_drag_and_drop(true);
    if let Ok(icon) = eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon-256.png"))
    {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport,
        persist_window: true,
        ..eframe::NativeOptions::default()
    };
    let handle = runtime.handle().clone();
    eframe::run_native(
        "Greenlight",
        options,
        Box::new(move |cc| Ok(Box::new(GreenlightApp::new(cc, handle, app_options)))),
    )
    .map_err(|e| e.to_string())
}
