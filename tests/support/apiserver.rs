//! The test API server is the product's sandbox server (`greenlight::sandbox::apiserver`).

pub use greenlight::sandbox::apiserver::*;
