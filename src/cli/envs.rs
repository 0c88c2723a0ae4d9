//! `check --env NAME=...` repeated: one spec checked in several environments at once, each
//! with its own connection and probe, side by side. One slow or unreachable environment marks
//! only its own column; the exit code is the worst environment's.

use std::sync::Arc;
use std::time::SystemTime;

use super::{
    CheckArgs, Exit, Failure, Format, TargetArgs, check_at, exit_of_verdict, load, runtime,
    selection_of, usage, with_due,
};
use crate::report::{CheckReport, Environment, MatrixReport};
use crate::text::printable;

/// One `--env`: its name and where it points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EnvArg {
    name: String,
    context: Option<String>,
    kubeconfig: Option<String>,
    profile: Option<String>,
    region: Option<String>,
}

/// Parses `NAME=CONTEXT[,profile=P][,region=R][,kubeconfig=PATH]` (`context=C` also works;
/// an AWS-only environment is `NAME=profile=P,region=R`).
pub(super) fn parse(text: &str) -> Result<EnvArg, String> {
    let fix = "write --env NAME=CONTEXT[,profile=P][,region=R][,kubeconfig=PATH], e.g. --env staging=kind-staging";
    let (name, rest) = text.split_once('=').ok_or(format!("`{text}`: no `=`; {fix}"))?;
    let name = name.trim();
    let good = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || name.len() > 63 || !name.chars().all(good) {
        return Err(format!("`{name}` is not an environment name (letters, digits, `-_.`); {fix}"));
    }
    let mut env = EnvArg {
        name: name.to_owned(),
        context: None,
        kubeconfig: None,
        profile: None,
        region: None,
    };
    for (i, item) in rest.split(',').map(str::trim).enumerate() {
        let slot = match item.split_once('=') {
            Some(("context", v)) => (&mut env.context, v),
            Some(("profile", v)) => (&mut env.profile, v),
            Some(("region", v)) => (&mut env.region, v),
            Some(("kubeconfig", v)) => (&mut env.kubeconfig, v),
            None if i == 0 && !item.is_empty() => (&mut env.context, item),
            _ => return Err(format!("`{item}` in --env {name}: {fix}")),
        };
        if slot.1.is_empty() {
            return Err(format!("`{item}` in --env {name} is empty; {fix}"));
        }
        *slot.0 = Some(slot.1.to_owned());
    }
    Ok(env)
}

/// The flags with this environment's context, kubeconfig, profile and region in place.
fn target_args(base: &TargetArgs, env: &EnvArg) -> TargetArgs {
    TargetArgs {
        platform: base.platform,
        kubeconfig: env.kubeconfig.as_ref().map(Into::into).or_else(|| base.kubeconfig.clone()),
        context: env.context.clone().or_else(|| base.context.clone()),
        profile: env.profile.clone().or_else(|| base.profile.clone()),
        region: env.region.clone().or_else(|| base.region.clone()),
    }
}

/// Checks every environment side by side and prints the matrix.
pub(super) fn run(args: &CheckArgs) -> Result<Exit, Failure> {
    let envs: Vec<EnvArg> =
        args.envs.iter().map(|e| parse(e)).collect::<Result<_, _>>().map_err(usage)?;
    for (i, env) in envs.iter().enumerate() {
        if envs.iter().skip(i + 1).any(|other| other.name == env.name) {
            return Err(usage(format!(
                "--env {} is given twice; give each environment once",
                env.name
            )));
        }
    }
    let spec = Arc::new(load(&args.spec)?);
    let selection = selection_of(&spec, args)?;
    let runtime = runtime()?;
    let checks = envs.iter().map(|env| {
        let (spec, selection) = (&spec, &selection);
        let targets = target_args(&args.target, env);
        async move {
            let report = check_at(spec, selection, &targets, args).await;
            let checked_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
            Environment { name: env.name.clone(), checked_at, report }
        }
    });
    let environments = runtime.block_on(futures::future::join_all(checks));
    let matrix = MatrixReport::build(environments);
    match args.format {
        Format::Text => print!("{}", printable(&matrix.to_text())),
        Format::Json => println!("{}", matrix.to_json()),
        Format::Markdown => print!("{}", printable(&matrix.to_markdown())),
    }
    let reports: Vec<&CheckReport> = matrix.environments.iter().map(|e| &e.report).collect();
    Ok(with_due(exit_of_verdict(matrix.verdict()), args.fail_on_due, &reports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_are_written_as_operators_would() {
        let env = parse("staging=kind-staging").unwrap();
        assert_eq!(env.name, "staging");
        assert_eq!(env.context.as_deref(), Some("kind-staging"));
        let env = parse("prd=context=prod,profile=acme-prod,region=eu-west-1").unwrap();
        assert_eq!(
            (env.context.as_deref(), env.profile.as_deref(), env.region.as_deref()),
            (Some("prod"), Some("acme-prod"), Some("eu-west-1"))
        );
        let aws_only = parse("dev=profile=acme-dev").unwrap();
        assert_eq!((aws_only.context, aws_only.profile.as_deref()), (None, Some("acme-dev")));
        for bad in ["staging", "=ctx", "a b=ctx", "x=ctx,colour=red", "x=ctx,profile="] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
