//! `environments:`: each declared environment's names and differences are checked where they
//! are written, then the spec is resolved once more with them applied, so every rule holds in
//! every environment. A problem only an environment has is reported at that environment.

use super::super::positions::key_path;
use indexmap::IndexMap;

use super::super::raw::{RawBackend, RawEnvironment, RawSpec};
use super::super::{OtherEnvironments, SecretSpec, SpecEnvironment, names};
use super::{Problems, closest};

/// Every declared environment, resolved with its differences applied.
pub(super) fn resolve(
    raw: &RawSpec,
    base: &SecretSpec,
    p: &mut Problems<'_>,
    resolve_spec: fn(&RawSpec, &mut Problems<'_>) -> SecretSpec,
) -> Vec<SpecEnvironment> {
    let mut environments = Vec::new();
    for (name, env) in &raw.environments {
        let path = key_path("environments", name);
        if let Err(why) = names::environment(name) {
            p.key(
                &path,
                "environment-name",
                format!("environment name `{name}` is invalid: {}", why.why),
                format!("rename it; {}", why.rule),
            );
        }
        let valid = checked(raw, env, &path, p);
        let applied = applied(raw, &valid);
        // Resolved on its own: the problems it finds that the spec itself does not have are
        // this environment's.
        let (found, warnings) = (std::mem::take(&mut p.found), std::mem::take(&mut p.warnings));
        let spec = resolve_spec(&applied, p);
        let own = std::mem::replace(&mut p.found, found);
        p.warnings = warnings;
        for problem in own {
            if !p.found.iter().any(|f| f.line == problem.line && f.message == problem.message) {
                p.key(
                    &path,
                    problem.rule,
                    format!("in environment `{name}`, {}", problem.message),
                    problem.fix,
                );
            }
        }
        environments.push(SpecEnvironment {
            name: name.clone(),
            description: env.description.as_ref().map(|d| d.trim().to_owned()),
            context: env.context.clone(),
            profile: env.profile.clone(),
            region: env.region.clone(),
            spec: Box::new(spec),
        });
    }
    let written = OtherEnvironments::of(base, None);
    let placed: Vec<OtherEnvironments> =
        environments.iter().map(|e| OtherEnvironments::of(&e.spec, e.region.as_deref())).collect();
    for (i, env) in environments.iter_mut().enumerate() {
        let mut others = written.clone();
        for (_, theirs) in placed.iter().enumerate().filter(|(j, _)| *j != i) {
            others.extend(theirs);
        }
        env.spec.other_environments = others;
    }
    environments
}

/// The spec as it reads in `env`.
fn applied(raw: &RawSpec, env: &RawEnvironment) -> RawSpec {
    let mut applied = RawSpec { environments: Default::default(), ..raw.clone() };
    if let Some(namespace) = &env.namespace {
        applied.defaults.kubernetes.namespace = Some(namespace.clone());
    }
    // The session's region in this environment; it replaces `defaults.aws.region` only where
    // the spec sets one (so `--env NAME=...,region=R` still chooses for the others).
    if let Some(region) = &env.region
        && applied.defaults.aws.region.is_some()
    {
        applied.defaults.aws.region = Some(region.clone());
    }
    if let Some(expect) = &env.expect {
        applied.expect = expect.clone();
    }
    for (id, fields) in &env.backends {
        let Some(backend) = applied.backends.get_mut(id) else { continue };
        for (field, value) in fields {
            if field == "name_prefix" {
                backend.name_prefix = Some(value.clone());
            } else {
                backend.fields.insert(field.clone(), value.clone());
            }
        }
    }
    applied
}

/// The environment's own words checked where they are written (free text, names, backends
/// and fields that exist, each field's rule); what is returned keeps only the differences that
/// passed, so the spec resolved with them does not report them twice.
fn checked(
    raw: &RawSpec,
    env: &RawEnvironment,
    path: &str,
    p: &mut Problems<'_>,
) -> RawEnvironment {
    let mut valid = RawEnvironment { backends: Default::default(), ..env.clone() };
    for (field, text) in
        [("description", &env.description), ("context", &env.context), ("profile", &env.profile)]
    {
        if let Some(text) = text {
            let at = key_path(path, field);
            p.free_text(&at, &format!("the environment's {field}"), text);
            if text.trim().is_empty() {
                p.value(
                    &at,
                    "environment-field",
                    format!("the environment's {field} is empty"),
                    format!("remove `{field}` or give it"),
                );
            }
        }
    }
    if let Some(region) = &env.region
        && let Err(why) = names::aws_region(region)
    {
        p.value(
            &key_path(path, "region"),
            "aws-region",
            format!("`{region}` is not an AWS region: {}", why.why),
            format!("use a region such as `eu-west-1`; {}", why.rule),
        );
        valid.region = None;
    }
    if let Some(namespace) = &env.namespace
        && let Err(why) = names::kubernetes_namespace(namespace)
    {
        p.value(
            &key_path(path, "namespace"),
            "kubernetes-namespace",
            format!("`{namespace}` is not a namespace name: {}", why.why),
            format!("use the namespace as `kubectl get namespaces` shows it; {}", why.rule),
        );
        valid.namespace = None;
    }
    let ids: Vec<&str> = raw.backends.keys().map(String::as_str).collect();
    for (id, fields) in &env.backends {
        let at = key_path(&key_path(path, "backends"), id);
        let Some(backend) = raw.backends.get(id) else {
            let fix = match closest(id, &ids) {
                Some(best) => format!("did you mean `{best}`?"),
                None if ids.is_empty() => "declare the backend under `backends:` first".to_owned(),
                None => format!("use one declared under `backends:` ({})", ids.join(", ")),
            };
            p.key(&at, "unknown-backend", format!("there is no backend `{id}`"), fix);
            continue;
        };
        let kept = backend_fields(id, backend, fields, &at, p);
        valid.backends.insert(id.clone(), kept);
    }
    valid
}

/// The fields of backend `id` that this environment changes and may: known, and each by its
/// rule.
fn backend_fields(
    id: &str,
    backend: &RawBackend,
    fields: &IndexMap<String, String>,
    at: &str,
    p: &mut Problems<'_>,
) -> IndexMap<String, String> {
    let declared = backend.kind.backend().fields();
    let known: Vec<&str> =
        std::iter::once("name_prefix").chain(declared.iter().map(|f| f.name)).collect();
    let mut kept = IndexMap::new();
    for (name, value) in fields {
        let field_at = key_path(at, name);
        if !known.contains(&name.as_str()) {
            let fix = match closest(name, &known) {
                Some(best) => format!("did you mean `{best}`?"),
                None => {
                    format!("the {} kind takes {}", backend.kind.backend().name(), known.join(", "))
                }
            };
            let message = format!("backend `{id}` has no field `{name}` to change");
            p.key(&field_at, "environment-field", message, fix);
            continue;
        }
        let rule = declared.iter().find(|f| f.name == name).and_then(|f| f.rule);
        if let Some((rule, what)) = rule
            && let Err(why) = rule(value)
        {
            let message = format!("`{value}` is not a valid {what}: {}", why.why);
            p.value(&field_at, "backend-field", message, why.rule.to_owned());
            continue;
        }
        kept.insert(name.clone(), value.clone());
    }
    kept
}
