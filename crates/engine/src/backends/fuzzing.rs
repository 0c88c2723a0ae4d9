//! The backends' parsers of local configuration files, for the fuzz harness.

/// Whether `text` parses as Application Default Credentials of a supported kind.
pub fn adc(text: &str) -> bool {
    super::gcp::parse_adc(text).is_ok()
}

/// Whether the Doppler CLI configuration `text` gives a token for some directory.
pub fn doppler_config(text: &str) -> bool {
    super::doppler::pick(text, "/home/ops/project").0.is_some()
}
