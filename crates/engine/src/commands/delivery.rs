//! Commands for a delivered value: create, verify and rotate it in its backend (the value from
//! a hidden prompt or made in the pipeline, on stdin, never in argv), then ask External
//! Secrets to sync every ExternalSecret it fills at once. Never a `kubectl create secret` for
//! a target Secret: ESO owns those.

use super::{
    CommandKind, QuoteError, Shell, Target, aws, context_words, kubernetes, lit, posix_stdin_block,
    powershell_block, powershell_values, raw, remark, render, values, write_remark,
};
use crate::backends::{Asked, Source, ValueFrom, Write};
use crate::spec::{Delivered, SecretEntry};

/// The command of `kind` for the delivered value `entry`.
pub(super) fn command(
    entry: &SecretEntry,
    delivered: &Delivered,
    target: &Target,
    shell: Shell,
    kind: CommandKind,
) -> Result<String, QuoteError> {
    let source = &delivered.source;
    match (source.asked(), kind) {
        (_, CommandKind::Sync) => sync(delivered, target, shell),
        (Asked::Aws(placement), _) => aws(entry, placement, target, shell, kind),
        (Asked::Cluster(placement), _) => kubernetes(entry, placement, target, shell, kind),
        (Asked::Directly, CommandKind::Verify) => verify(source, shell),
        (Asked::Directly, _) => write(entry, source, shell, kind),
    }
}

/// Names and metadata of the backend key, never its value.
fn verify(source: &Source, shell: Shell) -> Result<String, QuoteError> {
    Ok(format!(
        "{}\n{}",
        remark(
            &format!("Shows {} by name and metadata, never its value.", source.describe()),
            shell
        )?,
        render(&source.verify_words(), shell)?
    ))
}

/// Creates or replaces the value in a backend asked directly.
fn write(
    entry: &SecretEntry,
    source: &Source,
    shell: Shell,
    kind: CommandKind,
) -> Result<String, QuoteError> {
    let location = source.describe();
    let values = values(entry, std::slice::from_ref(&location));
    let comment = write_remark(entry, &location, kind, false, shell)?;
    let write = if kind == CommandKind::Create { Write::Create } else { Write::Replace };
    match shell {
        Shell::Posix => {
            let mut command = render(&source.write_words(write, ValueFrom::Stdin), shell)?;
            // A tool that prints what it set would show the value: its output is dropped.
            if source.echoes_value() {
                command.push_str(" >/dev/null");
            }
            posix_stdin_block(&comment, &values, &command)
        }
        Shell::PowerShell => {
            let mut lines = powershell_values(&values)?;
            match source.powershell_write(write) {
                Some(send) => lines.extend(send?),
                None => {
                    // Piping a string to a native command adds a line break, so the value goes
                    // to a temp file only this user can read, removed as soon as the command
                    // returns.
                    let mut command = render(&source.write_words(write, ValueFrom::File), shell)?;
                    if source.echoes_value() {
                        command.push_str(" | Out-Null");
                    }
                    lines.push("$file = New-TemporaryFile".to_owned());
                    lines.push(format!(
                        "try {{ [IO.File]::WriteAllText($file.FullName, $v1); {command} }} finally {{ Remove-Item -LiteralPath $file.FullName -Force }}"
                    ));
                }
            }
            Ok(powershell_block(&comment, lines))
        }
    }
}

/// Asks External Secrets to sync each ExternalSecret the value fills now, instead of at its
/// next refresh.
fn sync(delivered: &Delivered, target: &Target, shell: Shell) -> Result<String, QuoteError> {
    let each: Vec<(String, Vec<String>)> = delivered
        .targets
        .iter()
        .map(|t| (t.namespace.clone(), vec![t.external_secret.clone()]))
        .collect();
    sync_lines(&each, target, shell)
}

/// Sync now for ExternalSecrets by namespace: one `kubectl annotate` per namespace naming
/// each of its ExternalSecrets, under one remark.
pub(super) fn sync_lines(
    by_namespace: &[(String, Vec<String>)],
    target: &Target,
    shell: Shell,
) -> Result<String, QuoteError> {
    let now = match shell {
        // A new value each time, also within one second: ESO only looks when it changes.
        Shell::Posix => "force-sync=$(date +%s)-$RANDOM",
        Shell::PowerShell => "force-sync=$([DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds())",
    };
    let mut lines = vec![remark(
        "Asks External Secrets to sync now instead of at the next refresh (reads nothing).",
        shell,
    )?];
    for (namespace, names) in by_namespace {
        let mut words = vec![lit("kubectl"), lit("annotate"), lit("externalsecret")];
        words.extend(names.iter().map(|n| lit(n.clone())));
        words.extend(context_words(target, shell));
        words.extend([lit("--namespace"), lit(namespace.clone()), raw(now), lit("--overwrite")]);
        lines.push(render(&words, shell)?);
    }
    Ok(lines.join("\n"))
}
