//! Entry points for the fuzz harness (`fuzz/`) and its regression tests: each parser of
//! outside input, fed bytes as they come. None may panic, whatever the input; each returns
//! whether the input was accepted.

/// A spec file (YAML or JSON).
pub fn spec(bytes: &[u8]) -> bool {
    crate::spec::parse_bytes(bytes, "fuzz.yaml".as_ref()).is_ok()
}

/// A kubeconfig.
pub fn kubeconfig(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    crate::detect::kubernetes::kubeconfig_contexts(&text).is_ok()
}

/// Google Application Default Credentials.
pub fn adc(bytes: &[u8]) -> bool {
    crate::backends::fuzzing::adc(&String::from_utf8_lossy(bytes))
}

/// The Doppler CLI's configuration.
pub fn doppler_config(bytes: &[u8]) -> bool {
    crate::backends::fuzzing::doppler_config(&String::from_utf8_lossy(bytes))
}

/// Rendered manifests for `greenlight init`.
pub fn manifests(bytes: &[u8]) -> bool {
    let input = crate::init::Input {
        origin: "fuzz.yaml".to_owned(),
        text: String::from_utf8_lossy(bytes).into_owned(),
    };
    crate::init::draft(&[input], &crate::init::Options::default(), None).is_ok()
}

/// A parser under test: whether it accepted the input.
pub type Parser = fn(&[u8]) -> bool;

/// Every entry point, by name, for the harness and the tests.
pub const TARGETS: [(&str, Parser); 5] = [
    ("spec", spec),
    ("kubeconfig", kubeconfig),
    ("adc", adc),
    ("doppler-config", doppler_config),
    ("manifests", manifests),
];
