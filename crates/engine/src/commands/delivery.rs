//! Commands for a delivered value: create, verify and rotate it in its backend (the value from
//! a hidden prompt or made in the pipeline, on stdin, never in argv), then ask External
//! Secrets to sync every ExternalSecret it fills at once. Never a `kubectl create secret` for
//! a target Secret: ESO owns those.

use super::{
    CommandKind, QuoteError, Shell, Target, Word, aws, context_words, kubernetes, lit,
    posix_stdin_block, powershell_block, powershell_values, quote, raw, remark, render, values,
    write_remark,
};
use crate::spec::{Delivered, SecretEntry, Source};

/// The command of `kind` for the delivered value `entry`.
pub(super) fn command(
    entry: &SecretEntry,
    delivered: &Delivered,
    target: &Target,
    shell: Shell,
    kind: CommandKind,
) -> Result<String, QuoteError> {
    match (&delivered.source, kind) {
        (_, CommandKind::Sync) => sync(delivered, target, shell),
        (Source::Aws(placement), _) => aws(entry, placement, target, shell, kind),
        (Source::Kubernetes(placement), _) => kubernetes(entry, placement, target, shell, kind),
        (source, CommandKind::Verify) => verify(source, shell),
        (source, _) => write(entry, source, shell, kind),
    }
}

/// Names and metadata of the backend key, never its value.
fn verify(source: &Source, shell: Shell) -> Result<String, QuoteError> {
    let words = match source {
        Source::Gcp { project, secret } => {
            let mut words = vec![
                lit("gcloud"),
                lit("secrets"),
                lit("versions"),
                lit("describe"),
                lit("latest"),
                lit(format!("--secret={secret}")),
            ];
            words.extend(project.iter().map(|p| lit(format!("--project={p}"))));
            words.push(lit("--format=value(name,state,createTime)"));
            words
        }
        Source::Doppler { project, config, .. } => vec![
            lit("doppler"),
            lit("secrets"),
            lit("--only-names"),
            lit("--project"),
            lit(project.clone()),
            lit("--config"),
            lit(config.clone()),
        ],
        Source::Vault { mount, path, .. } => vec![
            lit("vault"),
            lit("kv"),
            lit("metadata"),
            lit("get"),
            lit(format!("-mount={mount}")),
            lit(path.clone()),
        ],
        Source::Aws(_) | Source::Kubernetes(_) => Vec::new(),
    };
    Ok(format!(
        "{}\n{}",
        remark(
            &format!("Shows {} by name and metadata, never its value.", source.describe()),
            shell
        )?,
        render(&words, shell)?
    ))
}

/// The argv that writes the value arriving on stdin (`-`), or, under PowerShell (`file`), from
/// the temp file `$file`. PowerShell splits an argument that starts with a quoted string
/// before an expression, so those are written as one double-quoted word (the names inside are
/// validated: letters, digits, '-', '_' and '.').
fn writer(source: &Source, kind: CommandKind, file: bool) -> Vec<Word> {
    match source {
        Source::Gcp { project, secret } => {
            let mut words = vec![lit("gcloud"), lit("secrets")];
            if kind == CommandKind::Create {
                words.extend([lit("create"), lit(secret.clone())]);
                words.push(lit("--replication-policy=automatic"));
            } else {
                words.extend([lit("versions"), lit("add"), lit(secret.clone())]);
            }
            words.extend(project.iter().map(|p| lit(format!("--project={p}"))));
            words.push(if file {
                raw("\"--data-file=$($file.FullName)\"")
            } else {
                lit("--data-file=-")
            });
            words
        }
        Source::Doppler { project, config, name } => vec![
            lit("doppler"),
            lit("secrets"),
            lit("set"),
            lit(name.clone()),
            lit("--project"),
            lit(project.clone()),
            lit("--config"),
            lit(config.clone()),
            lit("--silent"),
        ],
        Source::Vault { mount, path, property } => {
            let verb = if kind == CommandKind::Create { "put" } else { "patch" };
            let value = if file {
                raw(format!("\"{property}=@$($file.FullName)\""))
            } else {
                lit(format!("{property}=-"))
            };
            vec![
                lit("vault"),
                lit("kv"),
                lit(verb),
                lit(format!("-mount={mount}")),
                lit(path.clone()),
                value,
            ]
        }
        Source::Aws(_) | Source::Kubernetes(_) => Vec::new(),
    }
}

/// Creates or replaces the value in Secret Manager, Doppler or Vault.
fn write(
    entry: &SecretEntry,
    source: &Source,
    shell: Shell,
    kind: CommandKind,
) -> Result<String, QuoteError> {
    let location = source.describe();
    let values = values(entry, std::slice::from_ref(&location));
    let comment = write_remark(entry, &location, kind, false, shell)?;
    // Doppler prints the secrets it set; its output is dropped so no value reaches the screen.
    let quiet = matches!(source, Source::Doppler { .. });

    match shell {
        Shell::Posix => {
            let mut command = render(&writer(source, kind, false), shell)?;
            if quiet {
                command.push_str(" >/dev/null");
            }
            posix_stdin_block(&comment, &values, &command)
        }
        Shell::PowerShell => {
            // Piping a string to a native command adds a line break, so the value goes to a
            // temp file only this user can read, removed as soon as the command returns.
            let mut lines = powershell_values(&values)?;
            let send = match source {
                // Doppler reads a value from stdin only; PowerShell cannot redirect a file
                // into a native command, so the value is uploaded as a one-key JSON file, and
                // the output (which lists the values set) is dropped.
                Source::Doppler { project, config, name } => {
                    lines.push("$file = New-TemporaryFile | Rename-Item -NewName { $_.BaseName + '.json' } -PassThru".to_owned());
                    lines.push(format!(
                        "$json = @{{ {} = $v1 }} | ConvertTo-Json -Compress",
                        quote::powershell_literal(name)?
                    ));
                    let words = [
                        lit("doppler"),
                        lit("secrets"),
                        lit("upload"),
                        raw("$file.FullName"),
                        lit("--project"),
                        lit(project.clone()),
                        lit("--config"),
                        lit(config.clone()),
                        lit("--silent"),
                    ];
                    format!(
                        "[IO.File]::WriteAllText($file.FullName, $json); {} | Out-Null",
                        render(&words, shell)?
                    )
                }
                _ => {
                    lines.push("$file = New-TemporaryFile".to_owned());
                    format!(
                        "[IO.File]::WriteAllText($file.FullName, $v1); {}",
                        render(&writer(source, kind, true), shell)?
                    )
                }
            };
            lines.push(format!(
                "try {{ {send} }} finally {{ Remove-Item -LiteralPath $file.FullName -Force }}"
            ));
            Ok(powershell_block(&comment, lines))
        }
    }
}

/// Asks External Secrets to sync each ExternalSecret the value fills now, instead of at its
/// next refresh.
fn sync(delivered: &Delivered, target: &Target, shell: Shell) -> Result<String, QuoteError> {
    let now = match shell {
        // A new value each time, also within one second: ESO only looks when it changes.
        Shell::Posix => "force-sync=$(date +%s)-$RANDOM",
        Shell::PowerShell => "force-sync=$([DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds())",
    };
    let mut lines = vec![remark(
        "Asks External Secrets to sync now instead of at the next refresh (reads nothing).",
        shell,
    )?];
    for t in &delivered.targets {
        let mut words = vec![lit("kubectl"), lit("annotate"), lit("externalsecret")];
        words.push(lit(t.external_secret.clone()));
        words.extend(context_words(target, shell));
        words.extend([lit("--namespace"), lit(t.namespace.clone()), raw(now), lit("--overwrite")]);
        lines.push(render(&words, shell)?);
    }
    Ok(lines.join("\n"))
}
