//! `check --env NAME=...` repeated: one spec checked in several environments at once, each
//! with its own connection and probe, side by side. One slow or unreachable environment marks
//! only its own column; the exit code is the worst environment's.

use std::sync::Arc;
use std::time::SystemTime;

use super::{
    CheckArgs, Exit, Failure, Format, TargetArgs, check_at, exit_of_verdict, runtime, selection_of,
    usage, with_due,
};
use crate::report::{CheckReport, Environment, MatrixReport};
use crate::spec::SecretSpec;
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
/// an AWS-only environment is `NAME=profile=P,region=R`). A bare `NAME` is an environment the
/// spec declares (`declared`), reached as the spec says.
pub(super) fn parse(text: &str, declared: &[&str]) -> Result<EnvArg, String> {
    let fix = "write --env NAME=CONTEXT[,profile=P][,region=R][,kubeconfig=PATH], e.g. --env staging=kind-staging";
    let (name, rest) = match text.split_once('=') {
        Some(split) => split,
        None if declared.contains(&text.trim()) => (text, ""),
        None if declared.is_empty() => return Err(format!("`{text}`: no `=`; {fix}")),
        None => {
            return Err(format!(
                "`{text}` is not an environment the spec declares ({}); {fix}",
                declared.join(", ")
            ));
        }
    };
    let name = name.trim();
    if let Some(problem) = crate::spec::environment_name_problem(name) {
        return Err(format!("`{name}` is not an environment name: {problem}; {fix}"));
    }
    let mut env = EnvArg {
        name: name.to_owned(),
        context: None,
        kubeconfig: None,
        profile: None,
        region: None,
    };
    if rest.is_empty() {
        return Ok(env);
    }
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

/// One environment to check: its name, the spec as it reads there and where it is reached.
pub(super) struct Chosen {
    pub name: String,
    pub spec: Arc<SecretSpec>,
    pub target: TargetArgs,
}

/// The environment `--env TEXT` names: the spec's own when it declares it (what the flag says
/// wins over what the spec says, which wins over the global flags), else the spec as written.
pub(super) fn chosen(
    spec: &Arc<SecretSpec>,
    text: &str,
    base: &TargetArgs,
) -> Result<Chosen, Failure> {
    let declared: Vec<&str> = spec.environments.iter().map(|e| e.name.as_str()).collect();
    let env = parse(text, &declared).map_err(usage)?;
    let Some(own) = spec.environment(&env.name) else {
        return Ok(Chosen { target: target_args(base, &env), name: env.name, spec: spec.clone() });
    };
    let from_spec = EnvArg {
        name: env.name.clone(),
        context: env.context.clone().or_else(|| own.context.clone()),
        kubeconfig: env.kubeconfig.clone(),
        profile: env.profile.clone().or_else(|| own.profile.clone()),
        region: env.region.clone().or_else(|| own.region.clone()),
    };
    Ok(Chosen {
        target: target_args(base, &from_spec),
        name: env.name,
        spec: Arc::new(own.spec.as_ref().clone()),
    })
}

/// What `watch` follows: the one `--env`, else the spec as written where the flags point.
pub(super) fn watched(
    spec: Arc<SecretSpec>,
    args: &CheckArgs,
) -> Result<(Arc<SecretSpec>, TargetArgs), Failure> {
    match args.envs.as_slice() {
        [] => {
            if !spec.environments.is_empty() && args.format != Format::Json {
                let names: Vec<&str> = spec.environments.iter().map(|e| e.name.as_str()).collect();
                eprintln!(
                    "The spec declares environments {}; watching it as written where the flags point (--env NAME watches one of them).",
                    names.join(", ")
                );
            }
            Ok((spec, args.target.clone()))
        }
        [text] => {
            let env = chosen(&spec, text, &args.target)?;
            Ok((env.spec, env.target))
        }
        _ => Err(usage(
            "watch follows one environment; give one --env, or compare several with `greenlight check`",
        )),
    }
}

/// A declared environment that could not be checked at all is often one this machine reaches
/// by another context: say how to point it there.
fn elsewhere_hint(spec: &SecretSpec, matrix: &MatrixReport) {
    for env in &matrix.environments {
        let declared = spec.environment(&env.name);
        let unchecked = env.report.verdict() == crate::report::Verdict::Unknown
            && env.report.secrets.iter().all(|r| r.state != crate::detect::State::Present);
        if let (Some(declared), true) = (declared, unchecked) {
            let reached = match (&declared.context, &declared.profile) {
                (Some(context), _) => format!("context `{context}`"),
                (None, Some(profile)) => format!("AWS profile `{profile}`"),
                (None, None) => "the current context".to_owned(),
            };
            eprintln!(
                "{}: nothing could be checked; the spec reaches it by {reached}. If yours is called otherwise: --env {}=CONTEXT (or =profile=PROFILE).",
                printable(&env.name),
                printable(&env.name)
            );
        }
    }
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

/// Whether `check` compares environments: `--env` given, or the spec declares environments
/// and no flag points at one cluster or account.
pub(super) fn compares(spec: &SecretSpec, args: &CheckArgs) -> bool {
    !args.envs.is_empty()
        || (!spec.environments.is_empty()
            && args.target.context.is_none()
            && args.target.profile.is_none())
}

/// Checks every environment side by side and prints the matrix: each `--env`, else every
/// environment the spec declares.
pub(super) fn run(spec: &Arc<SecretSpec>, args: &CheckArgs) -> Result<Exit, Failure> {
    let given: Vec<String> = if args.envs.is_empty() {
        spec.environments.iter().map(|e| e.name.clone()).collect()
    } else {
        args.envs.clone()
    };
    let envs: Vec<Chosen> =
        given.iter().map(|text| chosen(spec, text, &args.target)).collect::<Result<_, _>>()?;
    for (i, env) in envs.iter().enumerate() {
        if envs.iter().skip(i + 1).any(|other| other.name == env.name) {
            return Err(usage(format!(
                "--env {} is given twice; give each environment once",
                env.name
            )));
        }
    }
    let selection = selection_of(spec, args)?;
    let runtime = runtime()?;
    let checks = envs.iter().map(|env| {
        let selection = &selection;
        async move {
            let report = check_at(&env.spec, selection, &env.target, args).await;
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
    if args.format != Format::Json {
        elsewhere_hint(spec, &matrix);
    }
    let reports: Vec<&CheckReport> = matrix.environments.iter().map(|e| &e.report).collect();
    Ok(with_due(exit_of_verdict(matrix.verdict()), args.fail_on_due, &reports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_are_written_as_operators_would() {
        let env = parse("staging=kind-staging", &[]).unwrap();
        assert_eq!(env.name, "staging");
        assert_eq!(env.context.as_deref(), Some("kind-staging"));
        let env = parse("prd=context=prod,profile=acme-prod,region=eu-west-1", &[]).unwrap();
        assert_eq!(
            (env.context.as_deref(), env.profile.as_deref(), env.region.as_deref()),
            (Some("prod"), Some("acme-prod"), Some("eu-west-1"))
        );
        let aws_only = parse("dev=profile=acme-dev", &[]).unwrap();
        assert_eq!((aws_only.context, aws_only.profile.as_deref()), (None, Some("acme-dev")));
        for bad in ["staging", "=ctx", "a b=ctx", "x=ctx,colour=red", "x=ctx,profile="] {
            assert!(parse(bad, &[]).is_err(), "{bad}");
        }
        // A bare name is one the spec declares.
        assert_eq!(parse("stg", &["dev", "stg"]).unwrap().context, None);
        let unknown = parse("qa", &["dev", "stg"]).unwrap_err();
        assert!(
            unknown.contains("dev, stg") && unknown.contains("--env NAME=CONTEXT"),
            "{unknown}"
        );
    }
}
