//! Greenlight, the app: the command line (`cli`), the desktop window (`ui`) and the sandbox
//! cluster `greenlight demo` runs (`sandbox`), on top of the engine (`greenlight-engine`).
//!
//! The engine's modules are re-exported here, so the app and its tests name everything as one
//! crate (`greenlight::spec`, `greenlight::detect`, ...); the crate boundary still keeps the
//! engine free of the window and the command line, and an edit here recompiles none of it.

pub use greenlight_engine::{
    SecretEntry, SecretSpec, SpecError, backends, commands, detect, diagnose, fuzzing, init,
    report, spec, text,
};

pub mod cli;
pub mod sandbox;
pub mod ui;
