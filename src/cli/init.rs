//! `greenlight init`: a spec drafted from rendered manifests, written where asked (never over
//! a file the vendor wrote, unless it is the one merged into), checked by the same validator
//! as `lint`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{Exit, Failure, usage};
use crate::init::{self, Options};
use crate::text::printable;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Rendered manifests: a file, a folder of them, or `-` for standard input
    /// (`helm template …`, `kustomize build …`).
    #[arg(value_name = "PATH|-")]
    pub input: PathBuf,
    /// Write the spec here (default: standard output). An existing file is not replaced,
    /// unless it is the one given to --merge.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The deployment's name (default: the manifests' app.kubernetes.io/part-of or instance
    /// label).
    #[arg(long, value_name = "NAME")]
    pub deployment: Option<String>,
    /// Namespace of objects that name none (as `helm template --namespace`; default `default`).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Keep what this existing spec says (descriptions, links, features, conditions); what
    /// the manifests no longer show is kept and flagged.
    #[arg(long, value_name = "SPEC")]
    pub merge: Option<PathBuf>,
}

pub(super) fn run(args: &InitArgs) -> Result<Exit, Failure> {
    let failed = |e: init::InitError| usage(e.to_string());
    let inputs = init::inputs(&args.input).map_err(failed)?;
    let previous = match &args.merge {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            usage(format!("{}: cannot read the spec to merge into: {e}", path.display()))
        })?),
        None => None,
    };
    if let Some(out) = &args.out
        && out.exists()
        && !args.merge.as_deref().is_some_and(|m| same_file(m, out))
    {
        return Err(usage(format!(
            "{} exists and is not replaced: give --merge {} to keep what it says and update it, or another --out",
            out.display(),
            out.display()
        )));
    }
    let options =
        Options { deployment: args.deployment.clone(), namespace: args.namespace.clone() };
    let draft = init::draft(&inputs, &options, previous.as_deref()).map_err(failed)?;
    for line in &draft.summary {
        eprintln!("{}", printable(line));
    }
    let shown =
        args.out.as_ref().map_or_else(|| "the spec".to_owned(), |p| p.display().to_string());
    match &args.out {
        Some(out) => {
            write_new(out, &draft.text)
                .map_err(|e| usage(format!("{}: cannot write the spec: {e}", out.display())))?;
        }
        None => print!("{}", draft.text),
    }
    // The same validator as `lint`: what is left for the vendor to do.
    match crate::spec::parse_bytes(
        draft.text.as_bytes(),
        args.out.as_deref().unwrap_or(Path::new("spec.yaml")),
    ) {
        Ok(spec) => {
            let todo = spec.warnings.iter().filter(|w| w.rule == "placeholder-description").count();
            eprintln!(
                "{} drafted: {} rows; {todo} description{} to write (`greenlight lint {}` lists them).",
                printable(&shown),
                spec.entries.len(),
                if todo == 1 { "" } else { "s" },
                printable(&shown)
            );
        }
        Err(error) => {
            let problems = error.to_string();
            eprintln!(
                "{} drafted, with what only the vendor can fill in (`greenlight lint` says where):\n{}",
                printable(&shown),
                printable(&problems)
            );
        }
    }
    Ok(Exit::Ready)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Writes through a temporary file beside `path`, so a failed write leaves the old file.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    file.persist(path).map(|_| ()).map_err(|e| e.error)
}
