//! `greenlight init`: a spec drafted from the vendor's rendered manifests (`helm template`,
//! `kustomize build`, a folder of YAML). Workloads name the Secrets and keys they consume;
//! ExternalSecrets name their store, target Secret, keys and backend keys; stores name their
//! backend and the credential they authenticate with. Secrets the manifests create themselves
//! are not asked of the operator. Values are never read: see [`read`].
//!
//! The draft is stable (by namespace, then name), so running `init` again after a chart change
//! gives a reviewable diff; descriptions are placeholders `greenlight lint` warns about until
//! the vendor writes them.

mod merge;
mod read;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use merge::Merged;

/// The description `init` writes where only the vendor knows the words; `lint` warns while a
/// spec still holds it.
pub const DESCRIBE_ME: &str = "TODO: what this is, and where the operator gets it";

/// The most manifest text read at once.
const MAX_BYTES: usize = 64 << 20;

/// How to draft.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The spec's `deployment`; default: the manifests' `app.kubernetes.io/part-of` or
    /// `instance` label, else the input's name.
    pub deployment: Option<String>,
    /// The namespace of objects that name none (`helm template` without `--namespace`).
    pub namespace: Option<String>,
}

/// Manifest text and where it came from.
#[derive(Debug, Clone)]
pub struct Input {
    /// A path, or `-` for standard input.
    pub origin: String,
    /// The text.
    pub text: String,
}

/// A draft spec.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The spec, as YAML with comments.
    pub text: String,
    /// What was found, in a line per kind, for the terminal or the window.
    pub summary: Vec<String>,
}

/// Why no draft could be written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InitError {
    /// An input could not be read.
    #[error("{origin}: {message}")]
    Read {
        /// The path or `-`.
        origin: String,
        /// What went wrong, and how to fix it.
        message: String,
    },
    /// Nothing in the inputs consumes or delivers a Secret.
    #[error("{0}")]
    Nothing(String),
}

/// A Secret a workload consumes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wanted {
    /// Keys named by references (none: an `envFrom` or a whole-volume mount).
    keys: BTreeSet<String>,
    /// A reference is not `optional: true`.
    required: bool,
    /// An image pull secret.
    pull_secret: bool,
    references: BTreeSet<Reference>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Reference {
    object: String,
    how: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Keys,
    PullSecret,
}

/// A Secret an ExternalSecret makes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    namespace: String,
    secret: String,
    external_secret: String,
    api_version: String,
    store: (String, String),
    /// Data key -> (backend key, property).
    keys: BTreeMap<String, (String, Option<String>)>,
    /// `dataFrom` entries, in words: keys that cannot be listed.
    data_from: Vec<String>,
}

/// A SecretStore or ClusterSecretStore in the manifests.
#[derive(Debug, Clone)]
pub(crate) struct StoreFound {
    provider: String,
    block: serde_json::Value,
    /// (namespace, Secret, key, where in the provider block).
    credentials: BTreeSet<(String, String, String, String)>,
}

/// Everything the manifests say about Secrets.
#[derive(Debug, Default)]
pub(crate) struct Found {
    objects: usize,
    workloads: usize,
    /// Documents that are not Kubernetes objects.
    skipped: usize,
    wanted: BTreeMap<(String, String), Wanted>,
    /// (namespace, Secret) -> what makes it.
    created: BTreeMap<(String, String), String>,
    targets: Vec<Target>,
    stores: BTreeMap<(String, String), StoreFound>,
    stores_used: BTreeMap<(String, String), usize>,
    deployment_names: BTreeMap<String, usize>,
    notes: Vec<String>,
}

/// Reads `path` (a file, or every `.yaml`, `.yml` and `.json` file under a folder, in name
/// order), or standard input for `-`.
pub fn inputs(path: &Path) -> Result<Vec<Input>, InitError> {
    if path == Path::new("-") {
        let mut text = String::new();
        use std::io::Read;
        std::io::stdin().take(MAX_BYTES as u64 + 1).read_to_string(&mut text).map_err(|e| {
            InitError::Read {
                origin: "-".into(),
                message: format!("cannot read standard input: {e}"),
            }
        })?;
        return Ok(vec![Input { origin: "-".into(), text }]);
    }
    let mut files = Vec::new();
    collect(path, &mut files, 0)?;
    let mut total = 0;
    files
        .into_iter()
        .map(|file| {
            let origin = file.display().to_string();
            let bytes = std::fs::read(&file).map_err(|e| InitError::Read {
                origin: origin.clone(),
                message: format!("cannot read it: {e}"),
            })?;
            total += bytes.len();
            if total > MAX_BYTES {
                return Err(InitError::Read {
                    origin,
                    message: format!("more than {} MiB of manifests; point init at the chart's rendered output, not a whole repository", MAX_BYTES >> 20),
                });
            }
            let text = String::from_utf8(bytes).map_err(|_| InitError::Read {
                origin: origin.clone(),
                message: "not UTF-8 text, so not a manifest".into(),
            })?;
            Ok(Input { origin, text })
        })
        .collect()
}

fn collect(path: &Path, files: &mut Vec<PathBuf>, depth: usize) -> Result<(), InitError> {
    let origin = || path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| InitError::Read {
        origin: origin(),
        message: format!(
            "cannot open it: {e}; give a manifest file, a folder of them, or - for standard input"
        ),
    })?;
    if meta.is_file() {
        files.push(path.to_owned());
        return Ok(());
    }
    if depth > 16 {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| InitError::Read { origin: origin(), message: format!("cannot list it: {e}") })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if entry.is_dir() {
            collect(&entry, files, depth + 1)?;
        } else if [".yaml", ".yml", ".json"].iter().any(|ext| name.ends_with(ext)) {
            files.push(entry);
        }
    }
    Ok(())
}

/// Reads every document of every input.
fn found(inputs: &[Input], namespace: &str) -> Result<Found, InitError> {
    let mut found = Found::default();
    for input in inputs {
        let text = input.text.strip_prefix('\u{feff}').unwrap_or(&input.text);
        if text.len() > MAX_BYTES {
            return Err(InitError::Read {
                origin: input.origin.clone(),
                message: format!("larger than {} MiB", MAX_BYTES >> 20),
            });
        }
        let documents: Vec<read::Document> = serde_saphyr::from_multiple(text).map_err(|e| {
            InitError::Read {
                origin: input.origin.clone(),
                message: format!(
                    "not readable as YAML manifests: {}; give rendered manifests (`helm template …`, `kustomize build …`), not chart templates",
                    crate::text::one_line(
                        e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ")
                    )
                ),
            }
        })?;
        for document in &documents {
            read::read(document, namespace, &mut found);
        }
    }
    Ok(found)
}

/// Drafts a spec from `inputs`; with `previous` (the text of an existing spec), keeps what the
/// vendor wrote there.
pub fn draft(
    inputs: &[Input],
    options: &Options,
    previous: Option<&str>,
) -> Result<Draft, InitError> {
    let namespace = options.namespace.clone().unwrap_or_else(|| "default".to_owned());
    let found = found(inputs, &namespace)?;
    if found.wanted.is_empty() && found.targets.is_empty() {
        return Err(InitError::Nothing(format!(
            "no workload or ExternalSecret in {} ({} Kubernetes objects read): nothing consumes a Secret. Give the rendered manifests of the whole deployment (`helm template NAME CHART | greenlight init -`).",
            inputs.iter().map(|i| i.origin.as_str()).collect::<Vec<_>>().join(", "),
            found.objects
        )));
    }
    let merged = match previous {
        Some(text) => Some(
            merge::Merged::read(text)
                .map_err(|message| InitError::Read { origin: "--merge".into(), message })?,
        ),
        None => None,
    };
    let deployment = options
        .deployment
        .clone()
        .or_else(|| merged.as_ref().map(|m| m.deployment.clone()))
        .or_else(|| {
            found.deployment_names.iter().max_by_key(|(_, count)| **count).map(|(n, _)| n.clone())
        })
        .or_else(|| {
            inputs.first().and_then(|i| {
                Path::new(&i.origin).file_stem().and_then(|s| s.to_str()).map(str::to_owned)
            })
        })
        .filter(|d| d != "-" && !d.is_empty())
        .unwrap_or_else(|| "my-deployment".to_owned());
    let origins: Vec<&str> = inputs.iter().map(|i| i.origin.as_str()).collect();
    Ok(write::write(&found, &deployment, &origins, merged.as_ref()))
}
