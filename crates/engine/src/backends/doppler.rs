//! Doppler: whether a config holds a secret, from the names-only endpoint
//! (`/v3/configs/config/secrets/names`), with the token from `DOPPLER_TOKEN` or the Doppler
//! CLI's login (`~/.doppler/.doppler.yaml`, the scope that best matches the working
//! directory). `DOPPLER_API_HOST` moves the API, as it does for the CLI. Written with
//! `doppler secrets set`, whose output (the values it set) is dropped.

use futures::future::BoxFuture;
use serde::Deserialize;

use super::{
    Answer, Asked, Backend, BackendError, BackendKind, Cli, Context, Env, Field, Fields, Finding,
    Listing, Login, LoginCommand, Place, Source, ValueFrom, Write, encode, get, read_small,
};
use crate::place::names::InvalidName;
use crate::shell::{QuoteError, Shell, Word, lit, quote, raw, render};

const LOGIN: &[&str] = &["doppler", "login"];

/// Doppler.
pub(crate) struct Doppler;

const FIELDS: &[Field] = &[
    Field {
        name: "project",
        doc: "Doppler project.",
        required: true,
        rule: Some((slug, "Doppler project")),
    },
    Field {
        name: "config",
        doc: "Doppler config, e.g. `prd`.",
        required: true,
        rule: Some((slug, "Doppler config")),
    },
];

/// Doppler project or config name.
fn slug(name: &str) -> Result<(), InvalidName> {
    const RULE: &str =
        "a Doppler project or config name is 1 to 60 lowercase letters, digits, '-' and '_'";
    if name.is_empty() || name.len() > 60 {
        return Err(InvalidName {
            rule: RULE,
            why: format!("it is {} characters long", name.len()),
        });
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_')))
    {
        return Err(InvalidName { rule: RULE, why: format!("{bad:?} is not allowed") });
    }
    Ok(())
}

impl Backend for Doppler {
    fn kind(&self) -> BackendKind {
        BackendKind::Doppler
    }

    fn name(&self) -> &'static str {
        "doppler"
    }

    fn title(&self) -> &'static str {
        "Doppler"
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn check_key(&self, name: &str) -> Result<(), InvalidName> {
        const RULE: &str =
            "a Doppler secret name is uppercase letters, digits and '_', not starting with a digit";
        if name.is_empty() {
            return Err(InvalidName { rule: RULE, why: "it is empty".to_owned() });
        }
        if let Some(bad) =
            name.chars().find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(InvalidName { rule: RULE, why: format!("{bad:?} is not allowed") });
        }
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(InvalidName { rule: RULE, why: "it starts with a digit".to_owned() });
        }
        Ok(())
    }

    fn place(&self, fields: &Fields, key: &str) -> Source {
        Source::new(DopplerSecret {
            project: fields.get("project").unwrap_or_default().to_owned(),
            config: fields.get("config").unwrap_or_default().to_owned(),
            name: key.to_owned(),
        })
    }

    fn fields_from_store(&self, provider: &serde_json::Value) -> Vec<(&'static str, String)> {
        super::fields_at(provider, &[("project", &["project"]), ("config", &["config"])])
    }

    fn eso_provider(&self) -> &'static str {
        "doppler"
    }

    fn env(&self) -> &'static [&'static str] {
        &["DOPPLER_TOKEN", "DOPPLER_API_HOST", "DOPPLER_CONFIG_DIR"]
    }

    fn cli(&self) -> Cli {
        Cli { program: "doppler", install: "https://docs.doppler.com/docs/install-cli" }
    }
}

/// A secret in a Doppler config.
struct DopplerSecret {
    project: String,
    config: String,
    name: String,
}

impl DopplerSecret {
    fn scope(&self) -> Vec<Word> {
        vec![lit("--project"), lit(self.project.clone()), lit("--config"), lit(self.config.clone())]
    }
}

impl Place for DopplerSecret {
    fn backend(&self) -> &'static dyn Backend {
        &Doppler
    }

    fn key(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        format!("Doppler {}/{} {}", self.project, self.config, self.name)
    }

    fn asked(&self) -> Asked<'_> {
        Asked::Directly
    }

    fn verify_words(&self) -> Vec<Word> {
        let mut words = vec![lit("doppler"), lit("secrets"), lit("--only-names")];
        words.extend(self.scope());
        words
    }

    fn write_words(&self, _write: Write, _from: ValueFrom) -> Vec<Word> {
        let mut words = vec![lit("doppler"), lit("secrets"), lit("set"), lit(self.name.clone())];
        words.extend(self.scope());
        words.push(lit("--silent"));
        words
    }

    fn echoes_value(&self) -> bool {
        true
    }

    /// Doppler reads a value from stdin only, and PowerShell cannot redirect a file into a
    /// native command: the value is uploaded as a one-key JSON file, and the output (which
    /// lists the values set) is dropped.
    fn powershell_write(&self, _write: Write) -> Option<Result<Vec<String>, QuoteError>> {
        let lines = || -> Result<Vec<String>, QuoteError> {
            let mut words =
                vec![lit("doppler"), lit("secrets"), lit("upload"), raw("$file.FullName")];
            words.extend(self.scope());
            words.push(lit("--silent"));
            Ok(vec![
                "$file = New-TemporaryFile | Rename-Item -NewName { $_.BaseName + '.json' } -PassThru".to_owned(),
                format!("$json = @{{ {} = $v1 }} | ConvertTo-Json -Compress", quote::powershell_literal(&self.name)?),
                format!(
                    "try {{ [IO.File]::WriteAllText($file.FullName, $json); {} | Out-Null }} finally {{ Remove-Item -LiteralPath $file.FullName -Force }}",
                    render(&words, Shell::PowerShell)?
                ),
            ])
        };
        Some(lines())
    }

    fn look<'a>(&'a self, cx: &'a Context) -> BoxFuture<'a, Result<Finding, BackendError>> {
        Box::pin(look(cx, &self.project, &self.config, &self.name))
    }

    fn batch(&self) -> Option<String> {
        Some(format!("doppler {}/{}", self.project, self.config))
    }
}

/// The token and API host: the environment first, then the CLI's configuration file.
fn login(env: &Env) -> (Option<String>, Option<String>) {
    let mut token = env.var("DOPPLER_TOKEN").map(str::to_owned);
    let mut host = env.var("DOPPLER_API_HOST").map(str::to_owned);
    if token.is_none() || host.is_none() {
        let (file_token, file_host) = from_config(env);
        token = token.or(file_token);
        host = host.or(file_host);
    }
    (token, host)
}

/// `scoped: { "/path": { token: ..., api-host: ... } }`: the longest scope containing the
/// working directory wins.
fn from_config(env: &Env) -> (Option<String>, Option<String>) {
    let Some(path) = env
        .var("DOPPLER_CONFIG_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| env.home().map(|h| h.join(".doppler")))
        .map(|d| d.join(".doppler.yaml"))
    else {
        return (None, None);
    };
    let Some(text) = read_small(&path) else { return (None, None) };
    let cwd = env.cwd().map(|d| d.display().to_string()).unwrap_or_default();
    pick(&text, &cwd)
}

#[derive(Deserialize, Default)]
struct CliConfig {
    #[serde(default)]
    scoped: std::collections::BTreeMap<String, Scope>,
}

#[derive(Deserialize, Default)]
struct Scope {
    #[serde(default)]
    token: Option<String>,
    #[serde(default, rename = "api-host")]
    api_host: Option<String>,
}

/// The token and API host of the scope that best matches `cwd` (the longest path containing
/// it, `/` last) in the CLI's configuration `text`.
pub(super) fn pick(text: &str, cwd: &str) -> (Option<String>, Option<String>) {
    let config: CliConfig = serde_saphyr::from_str(text).unwrap_or_default();
    config
        .scoped
        .into_iter()
        .filter(|(scope, s)| {
            s.token.is_some()
                && (scope == "/"
                    || cwd == scope
                    || cwd.starts_with(&format!("{}/", scope.trim_end_matches('/'))))
        })
        .max_by_key(|(scope, _)| scope.len())
        .map_or((None, None), |(_, s)| (s.token, s.api_host))
}

/// Where the token came from: the variable wins over the CLI's login, so a refused one is
/// fixed by changing the variable, not by logging in again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenFrom {
    Variable,
    Login,
}

async fn look(
    cx: &Context,
    project: &str,
    config: &str,
    name: &str,
) -> Result<Finding, BackendError> {
    let key = format!("doppler {project}/{config}");
    let listing = cx.listing(&key, || names(cx, project, config)).await?;
    Ok(match listing.proves_absent(name) {
        Some(absent) => Finding::Missing(absent),
        None => Finding::Present { changed: None },
    })
}

/// The names in a config: one request for every value of the config in a round.
async fn names(cx: &Context, project: &str, config: &str) -> Result<Listing, BackendError> {
    let from =
        if cx.env.var("DOPPLER_TOKEN").is_some() { TokenFrom::Variable } else { TokenFrom::Login };
    let (Some(token), host) = login(&cx.env) else {
        return Err(BackendError::Credentials {
            message: "not logged in to Doppler (no DOPPLER_TOKEN and no `doppler login`)"
                .to_owned(),
            login: Login::run(LOGIN),
        });
    };
    // Doppler tokens start with `dp.`; a CLI that keeps its login in the system keyring
    // leaves only a reference to it in its configuration file.
    if !token.starts_with("dp.") {
        return Err(BackendError::Credentials {
            message: "the Doppler CLI keeps its login in the system keyring, which Greenlight does not read; export DOPPLER_TOKEN (a read-only service token for this config) before starting Greenlight".to_owned(),
            login: Login {
                command: LoginCommand::Script {
                    posix: "export DOPPLER_TOKEN=\"$(doppler configure get token --plain)\"",
                    powershell: "$env:DOPPLER_TOKEN = (doppler configure get token --plain)",
                },
                note: None,
            },
        });
    }
    let host = host.unwrap_or_else(|| "https://api.doppler.com".to_owned());
    let url = format!(
        "{}/v3/configs/config/secrets/names?project={}&config={}",
        host.trim_end_matches('/'),
        encode(project),
        encode(config)
    );
    let bearer = format!("Bearer {token}");
    let answer = cx.http.send(get(&url, ("authorization", &bearer))?).await?;
    classify(&answer, project, config, from)
}

#[derive(Deserialize)]
struct Names {
    names: Vec<String>,
}

/// The one reading of Doppler's answer: a names list, or why there is none. A missing value
/// is only ever a name absent from a whole list.
fn classify(
    answer: &Answer,
    project: &str,
    config: &str,
    from: TokenFrom,
) -> Result<Listing, BackendError> {
    match answer.status {
        200 => answer.json::<Names>().map(|n| Listing::complete(n.names)).ok_or_else(|| {
            BackendError::Unreachable("Doppler's answer has no list of names".to_owned())
        }),
        401 => Err(BackendError::Credentials {
            message: "Doppler refused the token (401); it may have expired or been revoked"
                .to_owned(),
            login: match from {
                TokenFrom::Variable => Login {
                    command: LoginCommand::Script {
                        posix: "unset DOPPLER_TOKEN",
                        powershell: "Remove-Item Env:DOPPLER_TOKEN",
                    },
                    note: Some("the token comes from DOPPLER_TOKEN, which wins over `doppler login`: set it to a valid service token for this config, or unset it to use your login".to_owned()),
                },
                TokenFrom::Login => Login::run(LOGIN),
            },
        }),
        403 => Err(BackendError::Forbidden(format!(
            "reading secret names in Doppler {project}/{config}"
        ))),
        // Doppler says so for a project or config that does not exist, and for one the token
        // may not see: either way nothing is known about the value.
        400 | 404 if answer.is_json() => Err(BackendError::Unreachable(format!(
            "Doppler has no project `{project}` with a config `{config}`, or this token cannot see it: check the backend's project and config, and that the token is for that config"
        ))),
        _ => Err(answer.failure("Doppler")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        Answer::new(status, content_type, body.as_bytes().to_vec().into(), None)
    }

    #[test]
    fn only_a_whole_names_list_can_say_missing() {
        let read = |a: &Answer| classify(a, "apps", "prd", TokenFrom::Login);
        let json = "application/json";
        let listing =
            read(&answer(200, json, r#"{"names":["DATABASE_URL"],"success":true}"#)).unwrap();
        assert!(listing.proves_absent("API_TOKEN").is_some());
        assert!(listing.proves_absent("DATABASE_URL").is_none());
        for (status, content_type, body) in [
            (200, json, r#"{"success":true}"#),
            (200, json, r#"{"names":"#),
            (200, "text/html", "<html/>"),
            (404, json, r#"{"messages":["Could not find requested config"],"success":false}"#),
            (404, "text/html", "<html>404</html>"),
            (400, json, r#"{"messages":["Could not find requested project."],"success":false}"#),
            (403, json, r#"{"messages":["Forbidden"],"success":false}"#),
            (429, json, "{}"),
            (500, json, "{}"),
        ] {
            let got = read(&answer(status, content_type, body));
            assert!(got.is_err(), "{status} {body}: {got:?}");
        }
    }

    #[test]
    fn a_refused_token_from_the_environment_is_fixed_in_the_environment() {
        let refused = answer(401, "application/json", r#"{"messages":["Invalid Auth token"]}"#);
        let Err(BackendError::Credentials { login, .. }) =
            classify(&refused, "a", "b", TokenFrom::Variable)
        else {
            panic!("not a credentials failure");
        };
        assert!(matches!(login.command, LoginCommand::Script { posix: "unset DOPPLER_TOKEN", .. }));
        assert!(login.note.unwrap().contains("DOPPLER_TOKEN"));
        let Err(BackendError::Credentials { login, .. }) =
            classify(&refused, "a", "b", TokenFrom::Login)
        else {
            panic!("not a credentials failure");
        };
        assert_eq!(login.command, LoginCommand::Run(&["doppler", "login"]));
    }

    #[test]
    fn the_scope_closest_to_the_working_directory_wins() {
        let text = "scoped:\n  /:\n    token: dp.pt.everywhere\n  /home/ops/platform:\n    token: dp.st.platform\n    api-host: https://api.doppler.example\n    enclave.project: apps\n";
        assert_eq!(
            pick(text, "/home/ops/platform/deploy"),
            (Some("dp.st.platform".into()), Some("https://api.doppler.example".into()))
        );
        assert_eq!(pick(text, "/home/ops/other"), (Some("dp.pt.everywhere".into()), None));
        assert_eq!(pick("not: [yaml", "/"), (None, None));
    }
}
