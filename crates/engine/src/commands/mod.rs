//! Copyable commands for one entry: create, verify and rotate, for POSIX shells (bash, zsh)
//! and PowerShell. Pure: entry + target + shell -> text.
//!
//! Rules: the value never appears in argv or shell history (it is read from a hidden prompt
//! and passed on stdin, a process substitution or, for the AWS CLI under PowerShell, a
//! short-lived private temp file); every command says where (`--context`/`--namespace`,
//! `--profile`/`--region`); rotation overwrites in place, never delete-then-create; verify
//! commands print names and metadata only; generated values are made inside the pipeline.

mod batch;
mod delivery;
mod sheet;

use std::fmt;

use crate::shell::{Piece, Word, lit, raw, remark, render};
pub use crate::shell::{QuoteError, Sheet, Shell, quote};
use crate::spec::{
    AwsPlacement, AwsService, Encoding, FeatureSet, Generate, KubernetesPlacement, Platform,
    Provider, SecretEntry,
};
pub use batch::{Batch, BatchKind, batches, render as render_batch};
pub use sheet::sheet;

/// What a command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    /// Creates the secret.
    Create,
    /// Shows that it exists, with names and metadata only.
    Verify,
    /// Replaces the value in place.
    Rotate,
    /// Asks External Secrets to copy a delivered value into its Secrets now.
    Sync,
}

impl CommandKind {
    /// Label shown to people.
    pub fn title(self) -> &'static str {
        match self {
            CommandKind::Create => "Create",
            CommandKind::Verify => "Verify",
            CommandKind::Rotate => "Rotate",
            CommandKind::Sync => "Sync now",
        }
    }
}

/// One copyable command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixCommand {
    /// What it does.
    pub kind: CommandKind,
    /// The shell it is written for.
    pub shell: Shell,
    /// The text to paste, ending without a newline.
    pub text: String,
}

impl fmt::Display for FixCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Where the operator is working. `None` means "whatever is current when the command runs",
/// written out explicitly (e.g. `--context "$(kubectl config current-context)"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// kubeconfig file, when not the default one.
    pub kubeconfig: Option<String>,
    /// kubeconfig context.
    pub kube_context: Option<String>,
    /// AWS profile.
    pub aws_profile: Option<String>,
    /// AWS region used when the spec names none.
    pub aws_region: Option<String>,
}

/// The first line of a create or rotate command: what it does to `location`, and how the
/// value arrives (`each`: a Secret with several keys asks for each).
fn write_remark(
    entry: &SecretEntry,
    location: &str,
    kind: CommandKind,
    each: bool,
    shell: Shell,
) -> Result<String, QuoteError> {
    let action = if kind == CommandKind::Create { "Creates" } else { "Replaces the value of" };
    let how = match (entry.provided_by == Provider::Generated, each) {
        (true, _) => "with a random value made here and never shown",
        (false, true) => "asking for each value without showing it or saving it in history",
        (false, false) => "asking for the value without showing it or saving it in history",
    };
    remark(&format!("{action} {location}, {how}."), shell)
}

/// A POSIX block that feeds one value to `command` on stdin: made in the pipeline when it is
/// generated, else read at the hidden prompt.
fn posix_stdin_block(comment: &str, values: &[Value], command: &str) -> Result<String, QuoteError> {
    Ok(match values.first().and_then(|v| v.generated) {
        Some(g) => posix_block(comment, Vec::new(), format!("{} | {command}", openssl(g))),
        None => posix_block(
            comment,
            posix_prompts(values)?,
            format!("printf '%s' \"$GL_1\" | {command}"),
        ),
    })
}

/// Field manager used for server-side apply during rotation.
pub const FIELD_MANAGER: &str = "greenlight";

/// The create, verify and rotate commands for `entry` on `platform`, and for a delivered value
/// the sync command. Vendor-provided entries get only a verify command. An entry without a
/// placement on `platform` gets none.
pub fn for_entry(
    entry: &SecretEntry,
    platform: Platform,
    target: &Target,
    shell: Shell,
) -> Result<Vec<FixCommand>, QuoteError> {
    for_entry_with(entry, platform, target, shell, None)
}

/// [`for_entry`], with Sync now naming only the ExternalSecrets needed with `features` (all
/// of them without).
pub fn for_entry_with(
    entry: &SecretEntry,
    platform: Platform,
    target: &Target,
    shell: Shell,
    features: Option<&FeatureSet>,
) -> Result<Vec<FixCommand>, QuoteError> {
    let mut kinds: Vec<CommandKind> = if entry.provided_by == Provider::Vendor {
        vec![CommandKind::Verify]
    } else {
        vec![CommandKind::Create, CommandKind::Verify, CommandKind::Rotate]
    };
    if entry.delivered.as_ref().is_some_and(|d| !d.targets.is_empty()) {
        kinds.push(CommandKind::Sync);
    }
    let mut out = Vec::new();
    for kind in kinds {
        if let Some(text) = command(entry, platform, target, shell, kind, features)? {
            out.push(FixCommand { kind, shell, text });
        }
    }
    Ok(out)
}

/// The command of `kind` for `entry`, if it has one (see [`for_entry_with`]).
pub fn command(
    entry: &SecretEntry,
    platform: Platform,
    target: &Target,
    shell: Shell,
    kind: CommandKind,
    features: Option<&FeatureSet>,
) -> Result<Option<String>, QuoteError> {
    let vendors = entry.provided_by == Provider::Vendor;
    if vendors && kind != CommandKind::Verify && kind != CommandKind::Sync {
        return Ok(None);
    }
    Ok(Some(match platform {
        Platform::Kubernetes => match (&entry.delivered, &entry.kubernetes) {
            (Some(delivered), _) if kind == CommandKind::Sync => {
                let mut needed = delivered.clone();
                needed.targets.retain(|t| features.is_none_or(|f| t.is_needed(f)));
                if needed.targets.is_empty() {
                    return Ok(None);
                }
                delivery::command(entry, &needed, target, shell, kind)?
            }
            (Some(delivered), _) => delivery::command(entry, delivered, target, shell, kind)?,
            (None, _) if kind == CommandKind::Sync => return Ok(None),
            (None, Some(placement)) => kubernetes(entry, placement, target, shell, kind)?,
            (None, None) => return Ok(None),
        },
        Platform::Aws => match &entry.aws {
            Some(placement) if kind != CommandKind::Sync => {
                aws(entry, placement, target, shell, kind)?
            }
            _ => return Ok(None),
        },
    }))
}

/// Renders a plain argv for a POSIX shell; exposed so tests can prove it re-parses exactly.
pub fn render_posix_argv(argv: &[String]) -> Result<String, QuoteError> {
    render(&argv.iter().map(lit).collect::<Vec<_>>(), Shell::Posix)
}

/// The argv of the Kubernetes create command when the value arrives on stdin (single key).
pub fn kubernetes_create_argv(placement: &KubernetesPlacement, context: &str) -> Vec<String> {
    let mut argv = vec![
        "kubectl".to_owned(),
        "create".to_owned(),
        "secret".to_owned(),
        "generic".to_owned(),
        placement.secret.clone(),
    ];
    if let Some(kind) = &placement.secret_type {
        argv.push(format!("--type={kind}"));
    }
    argv.extend([
        "--context".to_owned(),
        context.to_owned(),
        "--namespace".to_owned(),
        placement.namespace.clone(),
    ]);
    for key in &placement.keys {
        argv.push(format!("--from-file={key}=/dev/stdin"));
    }
    argv
}

/// `[--kubeconfig PATH] --context CONTEXT`: the kubeconfig only when it is not the default.
fn context_words(target: &Target, shell: Shell) -> Vec<Word> {
    let mut words: Vec<Word> = target
        .kubeconfig
        .iter()
        .flat_map(|path| [lit("--kubeconfig"), lit(path.clone())])
        .collect();
    words.push(lit("--context"));
    words.push(match (&target.kube_context, shell) {
        (Some(context), _) => lit(context.clone()),
        (None, Shell::Posix) => raw("\"$(kubectl config current-context)\""),
        (None, Shell::PowerShell) => raw("(kubectl config current-context)"),
    });
    words
}

/// `--profile NAME` and `--region REGION` where Greenlight knows them; otherwise nothing, so
/// the aws CLI finds its credentials and region as the SDK did for Greenlight (`AWS_PROFILE`,
/// environment credentials, SSO, an instance role; `AWS_REGION`, the profile's region). A
/// `--profile default` would fail where only environment credentials exist.
fn whereabouts(placement: &AwsPlacement, target: &Target) -> Vec<Word> {
    let mut words = Vec::new();
    if let Some(profile) = &target.aws_profile {
        words.extend([lit("--profile"), lit(profile.clone())]);
    }
    if let Some(region) = placement.region.as_ref().or(target.aws_region.as_ref()) {
        words.extend([lit("--region"), lit(region.clone())]);
    }
    words
}

/// A value the command needs: typed at a hidden prompt, or random.
struct Value {
    label: String,
    generated: Option<Generate>,
}

fn values(entry: &SecretEntry, labels: &[String]) -> Vec<Value> {
    labels
        .iter()
        .map(|label| Value {
            label: label.clone(),
            generated: (entry.provided_by == Provider::Generated).then_some(entry.generate),
        })
        .collect()
}

fn openssl(generate: Generate) -> String {
    let flag = match generate.encoding {
        Encoding::Base64 => "-base64",
        Encoding::Hex => "-hex",
    };
    format!("openssl rand {flag} {} | tr -d '\\n'", generate.bytes)
}

fn kubernetes(
    entry: &SecretEntry,
    placement: &KubernetesPlacement,
    target: &Target,
    shell: Shell,
    kind: CommandKind,
) -> Result<String, QuoteError> {
    let context = context_words(target, shell);
    let location = format!("Secret {} in namespace {}", placement.secret, placement.namespace);
    if kind == CommandKind::Verify {
        let mut words =
            vec![lit("kubectl"), lit("get"), lit("secret"), lit(placement.secret.clone())];
        words.extend(context);
        words.extend([lit("--namespace"), lit(placement.namespace.clone())]);
        return Ok(format!(
            "{}\n{}",
            remark(
                &format!("Shows {location}: name, type, number of keys and age, never values."),
                shell
            )?,
            render(&words, shell)?
        ));
    }
    let labels: Vec<String> =
        placement.keys.iter().map(|k| format!("key {k} of {}", placement.secret)).collect();
    let values = values(entry, &labels);
    let comment = write_remark(entry, &location, kind, true, shell)?;
    match shell {
        Shell::Posix => kubernetes_posix(placement, context, kind, &values, &comment),
        Shell::PowerShell => kubernetes_powershell(placement, context, kind, &values, &comment),
    }
}

fn kubectl_create_words(
    placement: &KubernetesPlacement,
    context: &[Word],
    sources: Vec<Word>,
) -> Vec<Word> {
    let mut words = vec![
        lit("kubectl"),
        lit("create"),
        lit("secret"),
        lit("generic"),
        lit(placement.secret.clone()),
    ];
    if let Some(kind) = &placement.secret_type {
        words.push(lit(format!("--type={kind}")));
    }
    words.extend(context.iter().cloned());
    words.extend([lit("--namespace"), lit(placement.namespace.clone())]);
    words.extend(sources);
    words
}

fn apply_words(context: Vec<Word>, namespace: &str) -> Vec<Word> {
    let mut words = vec![
        lit("kubectl"),
        lit("apply"),
        lit("--server-side"),
        lit("--force-conflicts"),
        lit(format!("--field-manager={FIELD_MANAGER}")),
    ];
    words.extend(context);
    words.extend([lit("--namespace"), lit(namespace.to_owned()), lit("-f"), lit("-")]);
    words
}

/// Lines that read each prompted value into `GL_1`, `GL_2`, ... with echo off. Each value is
/// read to the end of input (Enter, then Ctrl-D), so a pasted multi-line value (a PEM key, a
/// JSON key file) arrives whole and none of its lines is left for the shell to run or to
/// keep in its history. Trailing line breaks are dropped.
fn posix_prompts(values: &[Value]) -> Result<Vec<String>, QuoteError> {
    let mut lines = vec!["stty -echo 2>/dev/null".to_owned()];
    for (n, value) in values.iter().enumerate() {
        lines.push(format!(
            "printf '%s\\n' {} >&2; GL_{}=$(cat) || exit 1; echo 'Received.' >&2",
            quote::posix(&format!(
                "Paste or type the value of {} (hidden), then press Enter and Ctrl-D:",
                value.label
            ))?,
            n + 1
        ));
    }
    lines.push("stty echo 2>/dev/null".to_owned());
    let filled: Vec<String> = (1..=values.len()).map(|n| format!("[ -n \"$GL_{n}\" ]")).collect();
    lines.push(format!(
        "{} || {{ echo 'Nothing entered; nothing was changed.' >&2; exit 1; }}",
        filled.join(" && ")
    ));
    Ok(lines)
}

/// Wraps lines and the final command in a subshell that first turns tracing off (an inherited
/// `set -x` would print values) and restores echo on any exit.
fn posix_block(comment: &str, mut lines: Vec<String>, command: String) -> String {
    lines.push(command);
    let body: Vec<String> = lines.iter().map(|l| format!("  {l}")).collect();
    format!(
        "{comment}\n( {{ set +x; }} 2>/dev/null; trap 'stty echo 2>/dev/null' EXIT; trap 'exit 130' INT TERM\n{}\n)",
        body.join("\n")
    )
}

fn kubernetes_posix(
    placement: &KubernetesPlacement,
    context: Vec<Word>,
    kind: CommandKind,
    values: &[Value],
    comment: &str,
) -> Result<String, QuoteError> {
    let generated = values.first().and_then(|v| v.generated);
    let single = placement.keys.len() == 1;
    let sources: Vec<Word> = placement
        .keys
        .iter()
        .enumerate()
        .map(|(n, key)| {
            let from = if single {
                Piece::Lit(format!("--from-file={key}=/dev/stdin"))
            } else {
                Piece::Lit(format!("--from-file={key}="))
            };
            let mut pieces = vec![from];
            if !single {
                pieces.push(Piece::Raw(match generated {
                    Some(g) => format!("<({})", openssl(g)),
                    None => format!("<(printf '%s' \"$GL_{}\")", n + 1),
                }));
            }
            Word(pieces)
        })
        .collect();
    let mut create = kubectl_create_words(placement, &context, sources);
    let mut command = if kind == CommandKind::Rotate {
        create.extend([lit("--dry-run=client"), lit("-o"), lit("yaml")]);
        format!(
            "{} | {}",
            render(&create, Shell::Posix)?,
            render(&apply_words(context, &placement.namespace), Shell::Posix)?
        )
    } else {
        render(&create, Shell::Posix)?
    };
    if single {
        let feed = match generated {
            Some(g) => openssl(g),
            None => "printf '%s' \"$GL_1\"".to_owned(),
        };
        command = format!("{feed} | {command}");
    }
    let prompts = if generated.is_some() { Vec::new() } else { posix_prompts(values)? };
    Ok(posix_block(comment, prompts, command))
}

/// PowerShell lines that set `$v1`, `$v2`, ... from hidden prompts or random bytes.
fn powershell_values(values: &[Value]) -> Result<Vec<String>, QuoteError> {
    let mut lines = Vec::new();
    for (n, value) in values.iter().enumerate() {
        let var = format!("$v{}", n + 1);
        match value.generated {
            Some(g) => {
                lines.push(format!("$b = [byte[]]::new({}); [Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($b)", g.bytes));
                lines.push(match g.encoding {
                    Encoding::Base64 => format!("{var} = [Convert]::ToBase64String($b)"),
                    Encoding::Hex => {
                        format!("{var} = -join ($b | ForEach-Object {{ $_.ToString('x2') }})")
                    }
                });
            }
            None => {
                // Read-Host reads one line: a pasted multi-line value is read line by line
                // until an empty line, so none of it is left for the shell.
                lines.push(format!(
                    "Write-Host {}",
                    quote::powershell_literal(&format!(
                        "Paste or type the value of {} (hidden), then press Enter on an empty line:",
                        value.label
                    ))?
                ));
                lines.push(format!(
                    "$lines = @(); while ($true) {{ $line = [Net.NetworkCredential]::new('', (Read-Host -AsSecureString)).Password; if (-not $line) {{ break }}; $lines += $line }}; {var} = $lines -join \"`n\""
                ));
                lines.push(format!("if (-not {var}) {{ Write-Warning 'Nothing entered; nothing was changed.'; return }}"));
            }
        }
    }
    Ok(lines)
}

/// A script block; tracing is turned off first (`Set-PSDebug -Trace 2` would print values).
fn powershell_block(comment: &str, lines: Vec<String>) -> String {
    let body: Vec<String> = std::iter::once("Set-PSDebug -Off".to_owned())
        .chain(lines)
        .map(|l| format!("  {l}"))
        .collect();
    format!("{comment}\n& {{\n{}\n}}", body.join("\n"))
}

fn kubernetes_powershell(
    placement: &KubernetesPlacement,
    context: Vec<Word>,
    kind: CommandKind,
    values: &[Value],
    comment: &str,
) -> Result<String, QuoteError> {
    // kubectl on Windows has no /dev/stdin, so the whole manifest travels on stdin instead.
    let mut lines = powershell_values(values)?;
    let data: Vec<String> = placement
        .keys
        .iter()
        .enumerate()
        .map(|(n, key)| {
            Ok(format!(
                "{} = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($v{}))",
                quote::powershell_literal(key)?,
                n + 1
            ))
        })
        .collect::<Result<_, QuoteError>>()?;
    lines.push(format!(
        "$manifest = @{{ apiVersion = 'v1'; kind = 'Secret'; type = {}; metadata = @{{ name = {}; namespace = {} }}; data = @{{ {} }} }}",
        quote::powershell_literal(placement.secret_type.as_deref().unwrap_or("Opaque"))?,
        quote::powershell_literal(&placement.secret)?,
        quote::powershell_literal(&placement.namespace)?,
        data.join("; ")
    ));
    let send = if kind == CommandKind::Create {
        let mut words = vec![lit("kubectl"), lit("create")];
        words.extend(context);
        words.extend([lit("-f"), lit("-")]);
        render(&words, Shell::PowerShell)?
    } else {
        render(&apply_words(context, &placement.namespace), Shell::PowerShell)?
    };
    lines.push(format!("$manifest | ConvertTo-Json -Depth 4 | {send}"));
    Ok(powershell_block(comment, lines))
}

fn aws(
    entry: &SecretEntry,
    placement: &AwsPlacement,
    target: &Target,
    shell: Shell,
    kind: CommandKind,
) -> Result<String, QuoteError> {
    let location = format!("{} {}", placement.service.title(), placement.name);
    let whereabouts = whereabouts(placement, target);
    if kind == CommandKind::Verify {
        let mut words = match placement.service {
            AwsService::SecretsManager => {
                vec![lit("aws"), lit("secretsmanager"), lit("describe-secret")]
            }
            AwsService::ParameterStore => vec![lit("aws"), lit("ssm"), lit("describe-parameters")],
        };
        words.extend(whereabouts);
        match placement.service {
            AwsService::SecretsManager => {
                words.push(lit(format!("--secret-id={}", placement.name)))
            }
            AwsService::ParameterStore => words.extend([
                lit("--parameter-filters"),
                lit(format!("Key=Name,Option=Equals,Values={}", placement.name)),
            ]),
        }
        return Ok(format!(
            "{}\n{}",
            remark(&format!("Shows the metadata of {location} (never its value)."), shell)?,
            render(&words, shell)?
        ));
    }
    let mut words = match (placement.service, kind) {
        (AwsService::SecretsManager, CommandKind::Create) => {
            vec![lit("aws"), lit("secretsmanager"), lit("create-secret")]
        }
        (AwsService::SecretsManager, _) => {
            vec![lit("aws"), lit("secretsmanager"), lit("put-secret-value")]
        }
        (AwsService::ParameterStore, _) => vec![lit("aws"), lit("ssm"), lit("put-parameter")],
    };
    words.extend(whereabouts);
    match (placement.service, kind) {
        (AwsService::SecretsManager, CommandKind::Create) => {
            // The `=` form: a name that starts with '-' would be read as an option.
            words.push(lit(format!("--name={}", placement.name)));
            if let Some(key) = &placement.kms_key {
                words.push(lit(format!("--kms-key-id={key}")));
            }
        }
        (AwsService::SecretsManager, _) => {
            words.push(lit(format!("--secret-id={}", placement.name)))
        }
        (AwsService::ParameterStore, _) => {
            words.extend([lit(format!("--name={}", placement.name)), lit("--type=SecureString")]);
            if let Some(key) = &placement.kms_key {
                words.push(lit(format!("--key-id={key}")));
            }
            if kind == CommandKind::Rotate {
                words.push(lit("--overwrite"));
            }
        }
    }
    let value_flag = match placement.service {
        AwsService::SecretsManager => "--secret-string",
        AwsService::ParameterStore => "--value",
    };
    let values = values(entry, std::slice::from_ref(&location));
    let comment = write_remark(entry, &location, kind, false, shell)?;
    match shell {
        Shell::Posix => {
            words.extend([lit(value_flag), lit("file:///dev/stdin")]);
            posix_stdin_block(&comment, &values, &render(&words, shell)?)
        }
        Shell::PowerShell => {
            // The AWS CLI reads values from files, and Windows has no /dev/stdin: the value goes
            // to a temp file only this user can read, removed as soon as the CLI returns.
            let mut lines = powershell_values(&values)?;
            words.extend([lit(value_flag), raw("\"file://$($file.FullName)\"")]);
            lines.push("$file = New-TemporaryFile".to_owned());
            lines.push(format!(
                "try {{ [IO.File]::WriteAllText($file.FullName, $v1); {} }} finally {{ Remove-Item -LiteralPath $file.FullName -Force }}",
                render(&words, shell)?
            ));
            Ok(powershell_block(&comment, lines))
        }
    }
}
