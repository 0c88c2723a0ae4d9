//! Kubernetes hints: what was found, in words, with the kubectl command that fixes or checks
//! it. Pure functions of what the probe saw.

use super::{Hint, argv};
use crate::commands::CommandKind;

/// What the operator needs to know to act: the context and who they are.
#[derive(Debug, Clone, Default)]
pub struct KubeIdentity {
    /// kubeconfig context.
    pub context: String,
    /// User name as the server sees it, if known.
    pub user: Option<String>,
    /// The command that logs in again, if it can be told.
    pub login: Option<Vec<String>>,
}

impl KubeIdentity {
    /// `--context CONTEXT --namespace NAMESPACE`.
    fn at(&self, namespace: &str) -> Vec<String> {
        argv(&["--context", &self.context, "--namespace", namespace])
    }

    /// `kubectl WORDS... --context CONTEXT --namespace NAMESPACE`.
    fn kubectl(&self, words: &[&str], namespace: &str) -> Vec<String> {
        let mut line = argv(&["kubectl"]);
        line.extend(argv(words));
        line.extend(self.at(namespace));
        line
    }
}

/// The namespace does not exist.
pub fn namespace_missing(scene: &KubeIdentity, namespace: &str) -> Hint {
    Hint::run(
        format!(
            "Namespace {namespace} does not exist in context {}. Create it first (or ask whoever deploys the workload):",
            scene.context
        ),
        &["kubectl", "create", "namespace", namespace, "--context", &scene.context],
    )
}

/// Whether the namespace exists could not be checked.
pub fn namespace_unknown(scene: &KubeIdentity, namespace: &str) -> Hint {
    Hint::run(
        format!(
            "Greenlight may not read namespace {namespace}, so it could not tell whether the namespace exists. Check:"
        ),
        &["kubectl", "get", "namespace", namespace, "--context", &scene.context],
    )
}

/// Found under the same name in other namespaces. `stray` is a copy the spec does not place
/// there, which may be a mistake; a copy the spec places is never offered for deletion.
pub fn in_other_namespaces(
    scene: &KubeIdentity,
    secret: &str,
    namespace: &str,
    others: &[String],
    stray: Option<&String>,
) -> Hint {
    let list = others.join(", ");
    let text = format!(
        "Secret {secret} exists in namespace {list}, not in {namespace} where the workload reads it. Create it in {namespace} with the create command"
    );
    match stray {
        Some(stray) => Hint::lines(
            format!("{text}; if the copy in {stray} was a mistake, delete it:"),
            vec![scene.kubectl(&["delete", "secret", secret], stray)],
        ),
        None => Hint::says(format!(
            "{text} (the spec needs the other copies too: keep them, and use the same value if they must match)."
        )),
    }
}

/// A similar name exists in the right namespace.
pub fn near_miss(scene: &KubeIdentity, wanted: &str, namespace: &str, found: &str) -> Hint {
    Hint::lines(
        format!(
            "Namespace {namespace} has a Secret named `{found}`, but the workload reads `{wanted}`. Create `{wanted}` with the create command; then remove the misnamed one:"
        ),
        vec![scene.kubectl(&["delete", "secret", found], namespace)],
    )
}

/// Fewer data keys than the spec lists.
pub fn too_few_keys(found: u32, keys: &[String]) -> Hint {
    Hint::entry(
        format!(
            "It has {found} data key{} but the spec lists {} ({}). Key names are not read, so check which are missing with `kubectl describe secret`, then replace it with every key:",
            if found == 1 { "" } else { "s" },
            keys.len(),
            keys.join(", ")
        ),
        CommandKind::Rotate,
    )
}

/// The Secret type differs from the spec.
pub fn wrong_type(
    scene: &KubeIdentity,
    secret: &str,
    namespace: &str,
    found: &str,
    wanted: &str,
) -> Hint {
    Hint::lines(
        format!(
            "Its type is `{found}` but the spec expects `{wanted}`. The type cannot be changed in place: delete it and create it again with the create command."
        ),
        vec![scene.kubectl(&["delete", "secret", secret], namespace)],
    )
}

/// The user may not read Secrets in the namespace: the Role that would allow it.
pub fn rbac(scene: &KubeIdentity, namespace: &str, verb: &str) -> Vec<Hint> {
    let who = scene.user.as_deref().map_or("your identity".to_owned(), |u| format!("user {u}"));
    role_hints(
        scene,
        namespace,
        format!(
            "{} may not {verb} Secrets in namespace {namespace}. A cluster admin can grant the minimal Role Greenlight needs (get, list and watch on Secrets in this namespace; list and watch make detection instant):",
            capitalize(&who)
        ),
        ("greenlight-reader", "get,list,watch"),
        verb,
    )
}

/// The operator may not create the Secret (or its namespace): the minimal Role that would
/// allow it, and how to verify, before anything is pasted.
pub fn may_not_create(scene: &KubeIdentity, namespace: &str, reason: &str) -> Vec<Hint> {
    role_hints(
        scene,
        namespace,
        format!(
            "{} The create command would fail. A cluster admin can allow creating and replacing Secrets in namespace {namespace}:",
            capitalize(reason).trim_end_matches('.').to_owned() + "."
        ),
        ("greenlight-writer", "create,patch,update"),
        "create",
    )
}

/// A Role on Secrets in `namespace` bound to the current user, then the `can-i` check
/// that verifies `verify_verb` once it is granted.
fn role_hints(
    scene: &KubeIdentity,
    namespace: &str,
    intro: String,
    (role, verbs): (&str, &str),
    verify_verb: &str,
) -> Vec<Hint> {
    let subject = format!("--user={}", scene.user.as_deref().unwrap_or("YOUR-USER"));
    vec![
        Hint::lines(
            intro,
            vec![
                scene.kubectl(
                    &["create", "role", role, &format!("--verb={verbs}"), "--resource=secrets"],
                    namespace,
                ),
                scene.kubectl(
                    &["create", "rolebinding", role, &format!("--role={role}"), &subject],
                    namespace,
                ),
            ],
        ),
        Hint::lines(
            "Verify the permission:",
            vec![scene.kubectl(&["auth", "can-i", verify_verb, "secrets"], namespace)],
        ),
    ]
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Credentials were rejected or could not be made.
pub fn credentials(scene: &KubeIdentity) -> Hint {
    match &scene.login {
        Some(login) => {
            Hint::lines("Log in again, then Greenlight reconnects by itself:", vec![login.clone()])
        }
        None => Hint::run(
            "The credentials in the kubeconfig were rejected. Get fresh ones (for a token, from your cluster admin), then check:",
            &["kubectl", "auth", "whoami", "--context", &scene.context],
        ),
    }
}

/// The API server could not be reached.
pub fn unreachable(scene: &KubeIdentity) -> Hint {
    Hint::run(
        "Check that the cluster is reachable from this machine (VPN, proxy, the server address in the kubeconfig):",
        &["kubectl", "cluster-info", "--context", &scene.context],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Fix;
    use crate::shell::Shell;

    #[test]
    fn rbac_hint_names_the_user_and_the_exact_rule() {
        let scene =
            KubeIdentity { context: "prod".into(), user: Some("alice".into()), login: None };
        let hints = rbac(&scene, "acme", "get");
        let written = |shell: Shell| {
            hints
                .iter()
                .map(|h| {
                    let Some(Fix::Run(lines)) = &h.fix else { panic!("no command") };
                    let lines: Vec<String> =
                        lines.iter().map(|l| super::super::line(l, shell).unwrap()).collect();
                    format!("{}\n{}", h.text, lines.join("\n"))
                })
                .collect::<Vec<_>>()
                .join("\n\n")
        };
        insta::assert_snapshot!(written(Shell::Posix));
        insta::assert_snapshot!("rbac_hint_in_powershell", written(Shell::PowerShell));
    }
}
