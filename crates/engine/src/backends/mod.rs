//! Where delivered values live: one file per backend behind one trait, listed in one registry
//! ([`BackendKind::backend`]). A backend owns everything about itself: the fields a spec
//! declares it with and their rules, its naming rule, the place of a value in it
//! ([`Place`]: its words, its commands, and how it is asked), and, for the backends
//! Greenlight asks over HTTP itself, a value-free lookup whose only door to "missing" is a
//! recognised not-found ([`Absent`]).
//!
//! | backend | file | asked |
//! |---|---|---|
//! | AWS Secrets Manager, Parameter Store | `aws` | by the AWS probe |
//! | a source namespace (ESO's Kubernetes provider) | `kubernetes` | by the Kubernetes probe |
//! | Google Secret Manager | `gcp` | here: a version's metadata |
//! | Doppler | `doppler` | here: the names list |
//! | Vault KV (v1 and v2) | `vault` | here: metadata (v2) or a LIST of the parent (v1) |
//! | Azure Key Vault | `azure` | here: the names list and a secret's versions |
//!
//! A new backend is its own file, a variant and a line in [`BackendKind::backend`], a
//! loopback fake in the test kit, and its docs.

mod aws;
mod azure;
mod doppler;
mod env;
#[doc(hidden)]
pub mod fuzzing;
mod gcp;
mod http;
mod kubernetes;
pub(crate) mod proof;
mod vault;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use env::Env;
pub(crate) use http::{Answer, Http, encode, get};
pub use proof::Absent;
pub(crate) use proof::{Expected, Listing, NotFound};

use crate::place::names::InvalidName;
use crate::place::{AwsPlacement, KubernetesPlacement};
use crate::shell::Word;

/// The kinds a spec's `backends:` may declare (`kind:`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// AWS Secrets Manager.
    AwsSecretsManager,
    /// AWS Systems Manager Parameter Store.
    AwsParameterStore,
    /// Secrets in a source namespace, read by the External Secrets Kubernetes provider.
    Kubernetes,
    /// Google Cloud Secret Manager.
    GcpSecretManager,
    /// Doppler.
    Doppler,
    /// HashiCorp Vault, KV (version 2, or version 1).
    VaultKv,
    /// Azure Key Vault.
    AzureKeyVault,
}

impl BackendKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [BackendKind; 7] = [
        BackendKind::AwsSecretsManager,
        BackendKind::AwsParameterStore,
        BackendKind::Kubernetes,
        BackendKind::GcpSecretManager,
        BackendKind::Doppler,
        BackendKind::VaultKv,
        BackendKind::AzureKeyVault,
    ];

    /// The backend behind the kind: the registry, one line per backend.
    pub fn backend(self) -> &'static dyn Backend {
        match self {
            BackendKind::AwsSecretsManager => &aws::SECRETS_MANAGER,
            BackendKind::AwsParameterStore => &aws::PARAMETER_STORE,
            BackendKind::Kubernetes => &kubernetes::SourceNamespace,
            BackendKind::GcpSecretManager => &gcp::SecretManager,
            BackendKind::Doppler => &doppler::Doppler,
            BackendKind::VaultKv => &vault::VaultKv,
            BackendKind::AzureKeyVault => &azure::KeyVault,
        }
    }

    /// The name used in spec files, e.g. `vault-kv`.
    pub fn as_str(self) -> &'static str {
        self.backend().name()
    }

    /// The kind whose External Secrets provider (a store's `spec.provider` key) is
    /// `provider`, e.g. `gcpsm`; `service` tells AWS's two apart.
    pub fn of_provider(provider: &str, service: Option<&str>) -> Option<BackendKind> {
        BackendKind::ALL.into_iter().find(|kind| {
            let backend = kind.backend();
            backend.eso_provider() == provider
                && backend.eso_service().is_none_or(|wanted| service == Some(wanted))
        })
    }
}

/// The string at `path` under `value`, if there is one.
pub(crate) fn store_field(value: &serde_json::Value, path: &[&str]) -> Option<String> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Pairs of a declaration field and the store's string at `path`, where given.
pub(crate) fn fields_at(
    provider: &serde_json::Value,
    pairs: &[(&'static str, &[&str])],
) -> Vec<(&'static str, String)> {
    pairs.iter().filter_map(|(field, path)| Some((*field, store_field(provider, path)?))).collect()
}

/// A naming rule: what is wrong with a name, if anything.
pub type Rule = fn(&str) -> Result<(), InvalidName>;

/// One field a backend is declared with in a spec (besides `kind` and `name_prefix`).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its name, e.g. `project`.
    pub name: &'static str,
    /// What it is, for the JSON Schema and the docs.
    pub doc: &'static str,
    /// Whether a declaration must give it.
    pub required: bool,
    /// The rule its value must follow, and what such a value is called.
    pub rule: Option<(Rule, &'static str)>,
}

/// The fields one backend declaration gives, checked against [`Backend::fields`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(pub BTreeMap<String, String>);

impl Fields {
    /// The field's value, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// What one backend is.
pub trait Backend: Sync {
    /// Its kind.
    fn kind(&self) -> BackendKind;
    /// The name in spec files, e.g. `gcp-secret-manager`.
    fn name(&self) -> &'static str;
    /// The name operators know it by, e.g. `Google Secret Manager`.
    fn title(&self) -> &'static str;
    /// The fields a declaration of it takes.
    fn fields(&self) -> &'static [Field];
    /// Rules across a declaration's fields (e.g. one of two is needed), as problems in words.
    fn check_fields(&self, _fields: &Fields) -> Vec<String> {
        Vec::new()
    }
    /// Checks a value's key (after the declaration's `name_prefix`) against its naming rule.
    fn check_key(&self, key: &str) -> Result<(), InvalidName>;
    /// The place of the value with `key` in the backend `fields` declare (already checked).
    fn place(&self, fields: &Fields, key: &str) -> Source;
    /// The External Secrets provider that reads it (the key under a store's `spec.provider`).
    fn eso_provider(&self) -> &'static str;
    /// For providers that serve several services: the store's `service` that means this one.
    fn eso_service(&self) -> Option<&'static str> {
        None
    }
    /// The fields of a declaration read from a store's provider block (`spec.provider.<it>`),
    /// for `greenlight init`: only where the store says them, never a credential.
    fn fields_from_store(&self, _provider: &serde_json::Value) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// The environment variables its lookups read (a hermetic test environment drops them).
    fn env(&self) -> &'static [&'static str] {
        &[]
    }
    /// The command-line tool its commands run, and how to install it.
    fn cli(&self) -> Cli;
}

/// A command-line tool the generated commands run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cli {
    /// The program, e.g. `vault`.
    pub program: &'static str,
    /// Where to get it.
    pub install: &'static str,
}

/// How the value's existence is asked.
pub enum Asked<'a> {
    /// By the AWS probe, at this placement.
    Aws(&'a AwsPlacement),
    /// By the Kubernetes probe, at this Secret in a source namespace.
    Cluster(&'a KubernetesPlacement),
    /// Here, over HTTP ([`Place::look`]).
    Directly,
}

/// Whether a write creates the value or replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// The value does not exist yet.
    Create,
    /// A new version of an existing value.
    Replace,
}

/// Where the value a write sends comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFrom {
    /// Standard input (POSIX shells).
    Stdin,
    /// The private temp file `$file` (PowerShell, which cannot pipe a value unchanged).
    File,
}

/// One value's place in its backend: what it is called there, how it is asked, and the words
/// of its commands. Never anything that could read the value.
pub trait Place: Send + Sync {
    /// The backend it is in.
    fn backend(&self) -> &'static dyn Backend;
    /// Its key in the backend.
    fn key(&self) -> &str;
    /// Where it is, in words, e.g. `Doppler bookmarked/prd DATABASE_URL`.
    fn describe(&self) -> String;
    /// How its existence is asked.
    fn asked(&self) -> Asked<'_>;
    /// The words of a command that shows its name and metadata, never its value (for backends
    /// asked directly; the AWS and Kubernetes ones are written with their platforms').
    fn verify_words(&self) -> Vec<Word> {
        Vec::new()
    }
    /// The words of a command that writes the value arriving `from`.
    fn write_words(&self, _write: Write, _from: ValueFrom) -> Vec<Word> {
        Vec::new()
    }
    /// Whether the write command prints the value back, so its output must be dropped.
    fn echoes_value(&self) -> bool {
        false
    }
    /// The PowerShell lines that write `$v1` when the plain temp-file form does not fit.
    fn powershell_write(
        &self,
        _write: Write,
    ) -> Option<Result<Vec<String>, crate::shell::QuoteError>> {
        None
    }
    /// Asks the backend, in a form that cannot return the value, whether it exists.
    fn look<'a>(&'a self, _cx: &'a Context) -> BoxFuture<'a, Result<Finding, BackendError>> {
        Box::pin(async { Err(BackendError::Unreachable("asked through its own probe".to_owned())) })
    }
    /// Calls of [`Place::look`] that may be shared between values this round (e.g. one names
    /// list for a whole Doppler config): the key that tells them apart.
    fn batch(&self) -> Option<String> {
        None
    }
}

/// A value's place, comparable and printable, whatever its backend.
#[derive(Clone)]
pub struct Source(Arc<dyn Place>);

impl Source {
    /// Wraps a backend's place.
    pub fn new(place: impl Place + 'static) -> Self {
        Self(Arc::new(place))
    }

    /// The backend's name as operators know it.
    pub fn title(&self) -> &'static str {
        self.0.backend().title()
    }

    /// Its kind.
    pub fn kind(&self) -> BackendKind {
        self.0.backend().kind()
    }

    fn identity(&self) -> (BackendKind, String) {
        (self.kind(), self.0.describe())
    }
}

impl std::ops::Deref for Source {
    type Target = dyn Place;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl PartialEq for Source {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for Source {}

impl std::hash::Hash for Source {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.describe())
    }
}

/// What a backend said about one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// It exists and is usable; when its value last changed, if the backend says.
    Present {
        /// When the current value was written, from metadata.
        changed: Option<SystemTime>,
    },
    /// The backend recognisably said it does not exist.
    Missing(Absent),
    /// It exists but is not usable, and why.
    Wrong(String),
}

/// The command that fixes a credential failure, and why it is the one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The command.
    pub command: LoginCommand,
    /// What to know before running it (e.g. a variable that wins over the login).
    pub note: Option<String>,
}

impl Login {
    /// Run `words`, e.g. `vault login`.
    pub(crate) fn run(words: &'static [&'static str]) -> Self {
        Self { command: LoginCommand::Run(words), note: None }
    }
}

/// A login command: a plain command line, or one written for each shell (it sets or unsets
/// a variable of the operator's own shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCommand {
    /// A command line, quoted for the shell where it is shown.
    Run(&'static [&'static str]),
    /// The same thing in each shell.
    Script {
        /// For bash and zsh.
        posix: &'static str,
        /// For PowerShell.
        powershell: &'static str,
    },
}

/// Why a backend could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// No credentials, or they were refused: how to log in.
    Credentials {
        /// What happened.
        message: String,
        /// How to log in again.
        login: Login,
    },
    /// The identity may not look.
    Forbidden(String),
    /// The backend asks Greenlight to slow down.
    Throttled {
        /// What it said.
        message: String,
        /// How long it asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// No answer, or not one the API promises.
    Unreachable(String),
}

impl BackendError {
    /// In words.
    pub fn text(&self) -> String {
        match self {
            BackendError::Credentials { message, .. }
            | BackendError::Forbidden(message)
            | BackendError::Throttled { message, .. }
            | BackendError::Unreachable(message) => message.clone(),
        }
    }
}

/// What every lookup shares: the HTTP client, the environment Greenlight was started in, and
/// access tokens and facts learned (e.g. a Vault mount's version), reused until they expire.
pub struct Context {
    pub(crate) http: Http,
    pub(crate) env: Env,
    pub(crate) memo: Memo,
    /// Names lists read this round, shared by every value they answer for.
    round: std::sync::Mutex<BTreeMap<String, SharedListing>>,
}

type SharedListing = Arc<tokio::sync::OnceCell<Result<Arc<Listing>, BackendError>>>;

impl Context {
    /// A context for lookups in `env`.
    pub fn new(env: Env) -> Self {
        Self { http: Http::default(), env, memo: Memo::default(), round: Default::default() }
    }

    /// A new round: names lists are read again.
    pub fn begin_round(&self) {
        if let Ok(mut round) = self.round.lock() {
            round.clear();
        }
    }

    /// The names list `key` this round: read once by `fetch`, shared by every value it
    /// answers for.
    pub(crate) async fn listing<F, Fut>(
        &self,
        key: &str,
        fetch: F,
    ) -> Result<Arc<Listing>, BackendError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Listing, BackendError>>,
    {
        let cell = match self.round.lock() {
            Ok(mut round) => round.entry(key.to_owned()).or_default().clone(),
            Err(_) => SharedListing::default(),
        };
        cell.get_or_init(|| async { fetch().await.map(Arc::new) }).await.clone()
    }

    /// Forgets tokens and facts ("Check now" after a new login).
    pub fn forget(&self) {
        self.memo.clear();
    }
}

/// Facts kept between lookups, each until its time is up.
#[derive(Default)]
pub(crate) struct Memo(std::sync::Mutex<BTreeMap<String, (std::time::Instant, String)>>);

impl Memo {
    /// The fact kept under `key`, if still fresh.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        let memo = self.0.lock().ok()?;
        memo.get(key)
            .filter(|(until, _)| std::time::Instant::now() < *until)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` under `key` for `ttl`.
    pub(crate) fn put(&self, key: &str, value: String, ttl: Duration) {
        if let Ok(mut memo) = self.0.lock() {
            memo.insert(key.to_owned(), (std::time::Instant::now() + ttl, value));
        }
    }

    /// Forgets `key`.
    pub(crate) fn forget(&self, key: &str) {
        if let Ok(mut memo) = self.0.lock() {
            memo.remove(key);
        }
    }

    fn clear(&self) {
        if let Ok(mut memo) = self.0.lock() {
            memo.clear();
        }
    }
}

/// Reads a small credentials or configuration file (at most 1 MiB).
pub(crate) fn read_small(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(1024 * 1024).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Names in `names` that look like typos of `wanted`, or like `wanted` without a prefix (at
/// most three).
pub(crate) fn near_misses<'a>(
    wanted: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| crate::text::is_near_miss(wanted, n) || without_prefix(wanted, n).is_some())
        .take(3)
        .map(str::to_owned)
        .collect()
}

/// The prefix `wanted` has and `found` lacks, when `found` is `wanted` without a leading
/// part that ends at a separator (`platform/`, `PROD_`), as when a value is created under
/// the bare name the vendor's table lists.
pub fn without_prefix<'a>(wanted: &'a str, found: &str) -> Option<&'a str> {
    let prefix = wanted.strip_suffix(found)?;
    let ends_at_separator = prefix.ends_with(['/', '_', '-', '.', ':']);
    (found.len() >= 3 && ends_at_separator).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_without_its_prefix_is_a_near_miss() {
        assert_eq!(without_prefix("platform/api-token", "api-token"), Some("platform/"));
        assert_eq!(without_prefix("PROD_DATABASE_URL", "DATABASE_URL"), Some("PROD_"));
        // Not at a separator, too short, or the same name: not this mistake.
        assert_eq!(without_prefix("MYKEY", "KEY"), None);
        assert_eq!(without_prefix("A_ID", "ID"), None);
        assert_eq!(without_prefix("api-token", "api-token"), None);
        let names = ["DATABASE_URL", "UNRELATED", "PROD_DATABASE_URI"];
        assert_eq!(near_misses("PROD_DATABASE_URL", names), ["DATABASE_URL", "PROD_DATABASE_URI"]);
    }
}
