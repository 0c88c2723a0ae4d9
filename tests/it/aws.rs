//! AWS detection end to end: the built `greenlight` binary against a real moto server (behind
//! a recording proxy), with the generated commands run by the real `aws` CLI in bash and zsh.
//! Every test ends by proving from the proxy's records that Greenlight never called an
//! operation that returns values and was never sent one. Over 600 lines because each test is a
//! whole journey against one moto server; they share its setup and the proxy's proofs.

use std::time::Duration;

use crate::support::moto::Moto;
use crate::support::{hints, is, row};
use greenlight::commands::{self, CommandKind, Shell, Target};
use greenlight::spec;

const SPEC: &str = "version: 1
deployment: aws-e2e
platforms: [aws]
defaults: { aws: { region: us-east-1, service: secrets-manager, name_prefix: acme/ } }
expect: { aws: { account: \"123456789012\" } }
secrets:
  - { name: github-token, description: GitHub token }
  - { name: webhook-secret, description: Webhook signing secret, aws: { service: parameter-store, name: /acme/prod/webhook-secret } }
  - { name: slack-url, description: Slack webhook, required: false }
";

const WAIT: Duration = Duration::from_secs(30);

fn write(moto: &Moto, text: &str) -> String {
    let path = moto.dir.path().join("spec.yaml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn check(moto: &Moto, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let (code, stdout, stderr) = moto
        .greenlight(
            &[&["check", "--platform", "aws", "--profile", "moto", "--format", "json"], args]
                .concat(),
        )
        .await;
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {stdout}\n{stderr}"));
    (code, report)
}

fn command(spec_path: &str, name: &str, kind: CommandKind, shell: Shell) -> String {
    let spec = spec::load(spec_path.as_ref()).unwrap();
    let entry = spec.entries.iter().find(|e| e.name == name).unwrap();
    let target = Target { aws_profile: Some("moto".into()), ..Target::default() };
    commands::for_entry(entry, spec::Platform::Aws, &target, shell)
        .unwrap()
        .into_iter()
        .find(|c| c.kind == kind)
        .unwrap()
        .text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_present_wrong_and_missing_with_exit_codes() {
    let mut moto = Moto::start().await;
    let spec = write(&moto, SPEC);
    moto.seed_secret("us-east-1", "acme/github-token", "ghp-moto-value-101").await;
    moto.seed_parameter(
        "us-east-1",
        "/acme/prod/webhook-secret",
        "String",
        "webhook-plain-value-102",
    )
    .await;
    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(row(&report, "github-token")["state"], "present");
    let webhook = row(&report, "webhook-secret");
    assert_eq!(webhook["state"], "wrong");
    assert_eq!(webhook["detail"], "type String, the spec expects SecureString");
    assert_eq!(row(&report, "slack-url")["state"], "missing");
    assert_eq!(report["connection"]["platform"], "aws");
    assert_eq!(report["connection"]["account"], "123456789012");
    assert_eq!(report["connection"]["profile"], "moto");
    assert_eq!(
        report["connection"]["credentials"], "profile moto",
        "where the pasted commands get theirs too"
    );
    assert!(report["connection"]["warnings"].as_array().unwrap().is_empty(), "{report:#}");

    // The rotate command overwrites it as a SecureString, in place.
    let (ok, _, stderr) = moto
        .shell(
            "bash",
            &command(&spec, "webhook-secret", CommandKind::Rotate, Shell::Posix),
            "webhook-secure-value-103\n",
        )
        .await;
    assert!(ok, "{stderr}");
    moto.seeded.push("webhook-secure-value-103".into());
    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(0), "{report:#}");
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_and_missing_values_are_wrong_with_the_fix() {
    let moto = Moto::start().await;
    let spec = write(&moto, SPEC);
    let (ok, _, err) = moto
        .aws(
            &[
                "secretsmanager",
                "create-secret",
                "--profile",
                "moto",
                "--region",
                "us-east-1",
                "--name",
                "acme/github-token",
            ],
            "",
        )
        .await;
    assert!(ok, "{err}");
    let (_, report) = check(&moto, &[&spec]).await;
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "wrong");
    assert_eq!(github["detail"], "exists, but has no current value");
    assert!(hints(github).contains("put-secret-value"), "{}", hints(github));

    let (ok, _, stderr) = moto
        .shell(
            "bash",
            &command(&spec, "github-token", CommandKind::Rotate, Shell::Posix),
            "now-with-a-value-111\n",
        )
        .await;
    assert!(ok, "{stderr}");
    let (ok, _, err) = moto
        .aws(
            &[
                "secretsmanager",
                "delete-secret",
                "--profile",
                "moto",
                "--region",
                "us-east-1",
                "--secret-id",
                "acme/github-token",
                "--recovery-window-in-days",
                "7",
            ],
            "",
        )
        .await;
    assert!(ok, "{err}");
    let (_, report) = check(&moto, &[&spec]).await;
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "wrong");
    assert!(github["detail"].as_str().unwrap().starts_with("scheduled for deletion"), "{github}");
    let restore = github["hints"][0]["command"].as_str().unwrap().to_owned();
    assert_eq!(
        restore,
        "aws secretsmanager restore-secret --profile moto --region us-east-1 --secret-id=acme/github-token"
    );
    let (ok, _, stderr) = moto.shell("bash", &restore, "").await;
    assert!(ok, "{stderr}");
    let (_, report) = check(&moto, &[&spec]).await;
    assert_eq!(row(&report, "github-token")["state"], "present");
    let mut moto = moto;
    moto.seeded.push("now-with-a-value-111".into());
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnoses_region_service_near_miss_and_account() {
    let mut moto = Moto::start().await;
    let spec = write(
        &moto,
        "version: 1
deployment: aws-diagnose
platforms: [aws]
defaults: { aws: { region: us-east-1, service: secrets-manager, name_prefix: acme/ } }
expect: { aws: { account: \"999999999999\" } }
secrets:
  - { name: in-europe, description: Created in the wrong region }
  - { name: in-ssm, description: Created in the wrong service }
  - { name: github-token, description: Created under a near-miss name }
",
    );
    moto.seed_secret("eu-west-1", "acme/in-europe", "europe-value-121").await;
    moto.seed_parameter("us-east-1", "/acme/in-ssm", "SecureString", "ssm-value-122").await;
    moto.seed_secret("us-east-1", "acme/github_token", "near-value-123").await;
    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(3), "{report:#}");
    let europe = row(&report, "in-europe");
    assert_eq!(europe["state"], "found_elsewhere");
    assert_eq!(europe["detail"], "Secrets Manager acme/in-europe in eu-west-1");
    assert!(hints(europe).contains("aws secretsmanager create-secret --profile moto --region us-east-1 --name=acme/in-europe"), "{}", hints(europe));
    let ssm = row(&report, "in-ssm");
    assert_eq!(ssm["state"], "found_elsewhere");
    assert_eq!(ssm["detail"], "Parameter Store /acme/in-ssm in us-east-1");
    let near = row(&report, "github-token");
    assert_eq!(near["state"], "found_elsewhere");
    assert_eq!(near["detail"], "Secrets Manager acme/github_token in us-east-1 (a similar name)");
    let warnings = report["connection"]["warnings"].to_string();
    assert!(
        warnings.contains(
            "The spec expects AWS account 999999999999, but this profile is in account 123456789012"
        ),
        "{warnings}"
    );
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_denials_are_forbidden_with_the_policy_and_bad_keys_say_how_to_fix() {
    // moto enforces IAM after the first three requests: create a user allowed only to
    // describe parameters, and use its keys.
    let mut moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]).await;
    let spec = write(&moto, SPEC);
    let (ok, _, err) =
        moto.aws(&["iam", "create-user", "--profile", "moto", "--user-name", "ops"], "").await;
    assert!(ok, "{err}");
    let (ok, keys, err) = moto
        .aws(
            &[
                "iam",
                "create-access-key",
                "--profile",
                "moto",
                "--user-name",
                "ops",
                "--query",
                "AccessKey.[AccessKeyId,SecretAccessKey]",
                "--output",
                "text",
            ],
            "",
        )
        .await;
    assert!(ok, "{err}");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:DescribeParameters"],"Resource":"*"}]}"#;
    let (ok, _, err) = moto
        .aws(
            &[
                "iam",
                "put-user-policy",
                "--profile",
                "moto",
                "--user-name",
                "ops",
                "--policy-name",
                "only-ssm",
                "--policy-document",
                policy,
            ],
            "",
        )
        .await;
    assert!(ok, "{err}");
    let keys: Vec<&str> = keys.split_whitespace().collect();
    moto.set_keys(keys[0], keys[1]);

    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(3), "the parameter is known missing: {report:#}");
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "forbidden", "{report:#}");
    assert_eq!(github["detail"], "secretsmanager:DescribeSecret");
    let text = hints(github);
    assert!(text.contains("\"secretsmanager:DescribeSecret\", \"secretsmanager:ListSecrets\", \"ssm:DescribeParameters\""), "{text}");
    assert!(text.contains("aws iam simulate-principal-policy --profile moto --policy-source-arn arn:aws:iam::123456789012:user/ops"), "{text}");
    assert_eq!(row(&report, "webhook-secret")["state"], "missing");

    moto.set_keys("AKIANOTAREALKEY00000", "not-a-real-secret");
    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(1));
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "unreachable");
    assert!(github["detail"].as_str().unwrap().contains("the access key is not valid"), "{github}");
    assert!(hints(github).contains("aws configure --profile moto"), "{}", hints(github));
    moto.seeded.clear();
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelled_profile_never_falls_back_to_another_identity() {
    let moto = Moto::start().await;
    let spec = write(&moto, SPEC);
    let (code, stdout, _) = moto
        .greenlight(&["check", "--platform", "aws", "--profile", "mot", "--format", "json", &spec])
        .await;
    assert_eq!(code, Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let detail = row(&report, "github-token")["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("AWS profile `mot` does not exist")
            && detail.contains("profiles: moto, other"),
        "{detail}"
    );
    assert!(
        moto.records().iter().all(|r| !r.sent_by_greenlight()),
        "no request may be made with another identity"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_turns_green_when_the_generated_aws_commands_run() {
    let mut moto = Moto::start().await;
    let spec = write(&moto, SPEC);
    let mut watch = moto.watch_json(&spec);
    watch.states(WAIT, &[("github-token", "missing"), ("webhook-secret", "missing")]).await;

    let (ok, _, stderr) = moto
        .shell(
            "bash",
            &command(&spec, "github-token", CommandKind::Create, Shell::Posix),
            "typed ' \" $value 131\n",
        )
        .await;
    assert!(ok, "{stderr}");
    watch.line_matching(Duration::from_secs(10), is("github-token", "present")).await;
    let (ok, _, stderr) = moto
        .shell(
            "zsh",
            &command(&spec, "webhook-secret", CommandKind::Create, Shell::Posix),
            "webhook value 132\n",
        )
        .await;
    assert!(ok, "{stderr}");
    watch.line_matching(Duration::from_secs(10), is("webhook-secret", "present")).await;
    let status = tokio::time::timeout(WAIT, watch.child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0));

    let (ok, stored, _) = moto
        .aws(
            &[
                "secretsmanager",
                "get-secret-value",
                "--profile",
                "moto",
                "--region",
                "us-east-1",
                "--secret-id",
                "acme/github-token",
                "--query",
                "SecretString",
                "--output",
                "text",
            ],
            "",
        )
        .await;
    assert!(ok);
    assert_eq!(stored.trim_end_matches('\n'), "typed ' \" $value 131");
    let (_, verify, _) = moto
        .shell("bash", &command(&spec, "github-token", CommandKind::Verify, Shell::Posix), "")
        .await;
    assert!(verify.contains("acme/github-token") && !verify.contains("131"), "{verify}");
    moto.seeded.extend(["typed ' \" $value 131".to_owned(), "webhook value 132".to_owned()]);
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_dying_mid_watch_leaves_stale_state_then_recovers() {
    let mut moto = Moto::start().await;
    let spec = write(&moto, SPEC);
    moto.seed_secret("us-east-1", "acme/github-token", "before-restart-141").await;
    let mut watch = moto.watch_json(&spec);
    watch.line_matching(WAIT, is("github-token", "present")).await;
    moto.kill().await;
    let stale =
        watch.line_matching(WAIT, |l| l["name"] == "github-token" && l["stale"].is_string()).await;
    assert_eq!(stale["state"], "present", "the last known state is kept, marked stale");
    // A restarted moto is empty: the fresh answer is "missing", not the stale "present".
    moto.restart().await;
    watch
        .line_matching(WAIT, |l| {
            l["name"] == "github-token" && l["state"] == "missing" && l["stale"].is_null()
        })
        .await;
    moto.seed_secret("us-east-1", "acme/github-token", "after-restart-142").await;
    watch.line_matching(WAIT, is("github-token", "present")).await;
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_keeps_the_last_state_and_backs_off() {
    let mut moto = Moto::start().await;
    let spec = write(&moto, SPEC);
    moto.seed_secret("us-east-1", "acme/github-token", "throttled-value-151").await;
    let mut watch = moto.watch_json(&spec);
    watch.line_matching(WAIT, is("github-token", "present")).await;
    moto.throttle(1000);
    let stale =
        watch.line_matching(WAIT, |l| l["name"] == "github-token" && l["stale"].is_string()).await;
    assert_eq!(stale["state"], "present");
    assert!(stale["stale"].as_str().unwrap().contains("throttling"), "{stale}");
    // Backing off: over 12 s of throttling, far fewer rounds than the 3 s pace would make.
    moto.clear_records();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let calls = moto
        .records()
        .iter()
        .filter(|r| r.sent_by_greenlight() && r.action.ends_with("DescribeSecret"))
        .count();
    // Each round makes one DescribeSecret per secret (2 here), each retried 3 times by the SDK.
    assert!(calls <= 2 * 3 * 3, "{calls} DescribeSecret calls in 12 s of throttling");
    moto.throttle(0);
    watch
        .line_matching(Duration::from_secs(150), |l| {
            l["name"] == "github-token" && l["state"] == "present" && l["stale"].is_null()
        })
        .await;
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_times_out_instead_of_hanging() {
    let moto = Moto::start().await;
    let spec = write(&moto, SPEC);
    // Let the identity check through; the lookups hang.
    moto.delay_action("DescribeSecret", Duration::from_secs(5));
    moto.delay_action("DescribeParameters", Duration::from_secs(5));
    let started = std::time::Instant::now();
    let (code, report) = check(&moto, &[&spec, "--request-timeout", "1"]).await;
    assert_eq!(code, Some(1), "{report:#}");
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "unreachable");
    assert_eq!(github["detail"], "AWS did not answer in time", "{github:#}");
    assert_eq!(report["connection"]["account"], "123456789012", "the identity was checked");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_example_against_moto() {
    let mut moto = Moto::start().await;
    moto.seed_secret("us-east-1", "acme/github-token", "quickstart-value-161").await;
    let (code, report) = check(&moto, &["specs/examples/quickstart.yaml"]).await;
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(row(&report, "github-token")["state"], "present");
    assert_eq!(row(&report, "database-password")["state"], "missing");
    assert_eq!(row(&report, "license-key")["state"], "missing");
    assert!(hints(row(&report, "session-signing-key")).contains("openssl rand -base64 48"));
    let warnings = report["connection"]["warnings"].to_string();
    assert!(warnings.is_empty() || !warnings.contains("account"), "{warnings}");
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sso_session_says_to_log_in_again() {
    let moto = Moto::start().await;
    let spec = write(&moto, SPEC);
    let start_url = "https://example.awsapps.com/start";
    let mut config = std::fs::read_to_string(moto.dir.path().join("config")).unwrap();
    config.push_str(&format!("[profile sso-user]\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = ReadOnly\nregion = us-east-1\n"));
    std::fs::write(moto.dir.path().join("config"), config).unwrap();
    let cache = moto.dir.path().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let (_, digest, _) = moto
        .shell("bash", &format!("printf '%s' '{start_url}' | sha1sum | cut -d' ' -f1"), "")
        .await;
    std::fs::write(cache.join(format!("{}.json", digest.trim())), format!(r#"{{"accessToken":"expired","expiresAt":"2020-01-01T00:00:00Z","region":"us-east-1","startUrl":"{start_url}"}}"#)).unwrap();
    let (code, stdout, _) = moto
        .greenlight(&[
            "check",
            "--platform",
            "aws",
            "--profile",
            "sso-user",
            "--format",
            "json",
            &spec,
        ])
        .await;
    assert_eq!(code, Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "unreachable");
    assert!(
        github["detail"].as_str().unwrap().contains("SSO session has expired or is not logged in"),
        "{github}"
    );
    assert!(hints(github).contains("aws sso login --profile sso-user"), "{}", hints(github));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diagnosis_stuck_on_other_regions_costs_no_row_its_answer() {
    let mut moto = Moto::start().await;
    let spec = write(
        &moto,
        "version: 1
deployment: vpc-endpoints
platforms: [aws]
defaults: { aws: { region: us-east-1, service: secrets-manager, name_prefix: acme/ } }
secrets:
  - { name: present-one, description: Exists }
  - { name: missing-one, description: Not created yet }
  - { name: missing-two, description: Not created yet }
  - { name: missing-three, description: Not created yet }
",
    );
    moto.seed_secret("us-east-1", "acme/present-one", "present-value-111").await;
    // Every other region hangs, as behind VPC endpoints or a firewall.
    for region in ["us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"] {
        moto.delay_region(region, Duration::from_secs(120));
    }
    let started = std::time::Instant::now();
    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(row(&report, "present-one")["state"], "present", "{report:#}");
    for name in ["missing-one", "missing-two", "missing-three"] {
        let secret = row(&report, name);
        assert_eq!(secret["state"], "missing", "{secret:#}");
        assert!(hints(secret).contains("aws secretsmanager create-secret"), "{secret:#}");
    }
    // Presence took milliseconds; each diagnosis stopped at its own budget, together.
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_on_the_default_key_is_wrong_when_the_spec_names_a_key() {
    let mut moto = Moto::start().await;
    let spec = write(
        &moto,
        "version: 1
deployment: kms
platforms: [aws]
defaults: { aws: { region: us-east-1, service: secrets-manager } }
secrets:
  - { name: acme/customer-key, description: Must use the customer key, aws: { kms_key: alias/acme-secrets } }
  - { name: acme/default-key, description: Any key will do }
",
    );
    // Created without --kms-key-id: the AWS managed key, which DescribeSecret does not name.
    moto.seed_secret("us-east-1", "acme/customer-key", "kms-value-112").await;
    moto.seed_secret("us-east-1", "acme/default-key", "kms-value-113").await;
    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(3), "{report:#}");
    let customer = row(&report, "acme/customer-key");
    assert_eq!(customer["state"], "wrong", "{customer:#}");
    assert_eq!(
        customer["detail"],
        "encrypted with KMS key alias/aws/secretsmanager, the spec expects alias/acme-secrets"
    );
    assert_eq!(row(&report, "acme/default-key")["state"], "present");
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_never_offer_to_delete_a_copy_the_spec_places_in_another_region() {
    let mut moto = Moto::start().await;
    let spec = write(
        &moto,
        "version: 1
deployment: two-regions
platforms: [aws]
defaults: { aws: { service: secrets-manager } }
secrets:
  - { name: token-east, description: In the east, aws: { name: acme/token, region: us-east-1 } }
  - { name: token-west, description: In the west, aws: { name: acme/token, region: eu-west-1 } }
",
    );
    moto.seed_secret("eu-west-1", "acme/token", "west-value-114").await;
    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(3), "{report:#}");
    let east = row(&report, "token-east");
    assert_eq!(east["state"], "found_elsewhere", "{east:#}");
    assert!(!hints(east).contains("delete-secret"), "{}", hints(east));
    assert_eq!(row(&report, "token-west")["state"], "present");
    moto.assert_value_free();
}

/// The policy a row's write hint carries.
fn policy_of(row: &serde_json::Value) -> serde_json::Value {
    let hint = row["hints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["command"].as_str().is_some_and(|c| c.contains("\"Statement\"")))
        .unwrap_or_else(|| panic!("no policy hint: {row:#}"));
    serde_json::from_str(hint["command"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_paste_the_operator_learns_whether_they_may_create() {
    use crate::support::moto::Simulation;

    let moto = Moto::start().await;
    let spec = write(
        &moto,
        "version: 1\ndeployment: write-check\nplatforms: [aws]\ndefaults: { aws: { region: us-east-1, service: secrets-manager, name_prefix: acme/ } }\nsecrets:\n  - { name: github-token, description: GitHub token }\n  - { name: db-password, description: Database password, aws: { service: parameter-store, name: /acme/db-password, kms_key: alias/acme } }\n",
    );

    // An identity that may not simulate: the check could not run; the actions are named.
    let (_, report) = check(&moto, &[&spec]).await;
    let token = row(&report, "github-token");
    assert_eq!(token["can_create"], "unknown", "{token:#}");
    assert!(token["can_create_reason"].as_str().unwrap().contains("iam:SimulatePrincipalPolicy"));
    let policy = policy_of(token);
    assert_eq!(
        policy["Statement"][0]["Action"],
        serde_json::json!(["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"])
    );
    assert_eq!(
        policy["Statement"][0]["Resource"],
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme/github-token-*"
    );

    // May simulate, allowed nothing: no, with the exact actions.
    moto.set_simulation(Simulation { may_simulate: true, allowed: Vec::new() });
    let (_, report) = check(&moto, &[&spec]).await;
    let token = row(&report, "github-token");
    assert_eq!(token["can_create"], "no", "{token:#}");
    let reason = token["can_create_reason"].as_str().unwrap();
    assert!(reason.contains("secretsmanager:CreateSecret (no policy allows it)"), "{reason}");
    let db = row(&report, "db-password");
    assert_eq!(db["can_create"], "no");
    assert!(db["can_create_reason"].as_str().unwrap().contains("kms:Encrypt"), "{db:#}");

    // While `watch` runs, an administrator attaches the policies Greenlight offered: the rows
    // flip to "yes" without a restart.
    let mut watch = moto.watch_json(&spec);
    watch
        .line_matching(Duration::from_secs(30), |l| {
            l["name"] == "github-token" && l["can_create"] == "no"
        })
        .await;
    let mut simulation = Simulation { may_simulate: true, allowed: Vec::new() };
    simulation.allow_policy(&policy_of(row(&report, "github-token")));
    simulation.allow_policy(&policy_of(db));
    moto.set_simulation(simulation);
    let (_, now) = check(&moto, &[&spec]).await;
    assert_eq!(row(&now, "github-token")["can_create"], "yes", "{now:#}");
    watch
        .line_matching(Duration::from_secs(40), |l| {
            l["name"] == "github-token" && l["can_create"] == "yes"
        })
        .await;
    // IAM allows everything now; the KMS key's own policy cannot be simulated, so the
    // parameter on a customer key stays "not proven".
    let (_, report) = check(&moto, &[&spec]).await;
    let db = row(&report, "db-password");
    assert_eq!(db["can_create"], "unknown", "{report:#}");
    assert!(db["can_create_reason"].as_str().unwrap().contains("not proven"), "{db:#}");
    moto.assert_value_free();
}

#[expect(
    clippy::too_many_lines,
    reason = "one journey: a role with a path assumed through STS, then every simulation checked"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assumed_role_is_simulated_as_its_role() {
    use crate::support::moto::Simulation;

    let moto = Moto::start().await;
    moto.set_simulation(Simulation { may_simulate: true, allowed: Vec::new() });
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    let (ok, _, err) = moto
        .aws(
            &[
                "iam",
                "create-role",
                "--profile",
                "moto",
                "--path",
                "/deploy/",
                "--role-name",
                "deployer",
                "--assume-role-policy-document",
                trust,
            ],
            "",
        )
        .await;
    assert!(ok, "{err}");
    let (ok, out, err) = moto
        .aws(
            &[
                "sts",
                "assume-role",
                "--profile",
                "moto",
                "--role-arn",
                "arn:aws:iam::123456789012:role/deploy/deployer",
                "--role-session-name",
                "alice",
                "--output",
                "json",
            ],
            "",
        )
        .await;
    assert!(ok, "{err}");
    let credentials: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &credentials["Credentials"];
    let config = moto.dir.path().join("config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[profile assumed]\nregion = us-east-1\n");
    std::fs::write(&config, text).unwrap();
    let creds = moto.dir.path().join("credentials");
    let mut text = std::fs::read_to_string(&creds).unwrap();
    text.push_str(&format!(
        "[assumed]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        c["SessionToken"].as_str().unwrap()
    ));
    std::fs::write(&creds, text).unwrap();
    let spec = write(&moto, SPEC);
    moto.clear_records();
    let (_, stdout, stderr) = moto
        .greenlight(&[
            "check",
            "--platform",
            "aws",
            "--profile",
            "assumed",
            "--format",
            "json",
            &spec,
        ])
        .await;
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}\n{stderr}"));
    assert!(
        report["connection"]["identity"]
            .as_str()
            .unwrap_or_default()
            .contains("assumed-role/deployer/alice"),
        "{report:#}"
    );
    let simulated: Vec<String> = moto
        .records()
        .into_iter()
        .filter(|r| r.action == "Action=SimulatePrincipalPolicy")
        .map(|r| r.request)
        .collect();
    assert!(!simulated.is_empty(), "no simulation was asked");
    for request in &simulated {
        assert!(
            request.contains(
                "PolicySourceArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeploy%2Fdeployer"
            ),
            "simulated as something else than the role: {request}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_at_the_edges_of_the_rules_work_in_every_generated_command() {
    let mut moto = Moto::start().await;
    let long = format!("acme/{}", "x".repeat(507));
    let names: [(&str, &str); 5] = [
        ("dash", "-leading-dash"),
        ("symbols", "acme/a+b=c@d.e_f-g"),
        ("long", long.as_str()),
        ("param-dash", "-param"),
        ("param-deep", "/a.b/c_d/-e"),
    ];
    let mut text = String::from(
        "version: 1\ndeployment: edges\nplatforms: [aws]\ndefaults: { aws: { region: us-east-1 } }\nsecrets:\n",
    );
    for (name, key) in names {
        let service = if name.starts_with("param") { "parameter-store" } else { "secrets-manager" };
        text.push_str(&format!(
            "  - {{ name: {name}, description: An edge, aws: {{ service: {service}, name: \"{key}\" }} }}\n"
        ));
    }
    let spec = write(&moto, &text);
    let (code, _, stderr) = moto.greenlight(&["lint", &spec]).await;
    assert_eq!(code, Some(0), "{stderr}");
    for (name, _) in names {
        for kind in [CommandKind::Create, CommandKind::Verify, CommandKind::Rotate] {
            let script = command(&spec, name, kind, Shell::Posix);
            let input = if kind == CommandKind::Verify { "" } else { "edge-value-4411\n" };
            let (ok, _, err) = moto.shell("bash", &script, input).await;
            assert!(ok, "{name} {kind:?}:\n{script}\n{err}");
        }
    }
    moto.seeded.push("edge-value-4411".to_owned());
    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(0), "{report:#}");
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasted_commands_work_with_environment_credentials_and_no_config_file() {
    let mut moto = Moto::start().await;
    // No region in the spec: the CLI takes it from the environment, as the SDK did.
    let spec = write(
        &moto,
        "version: 1\ndeployment: env-creds\nplatforms: [aws]\ndefaults: { aws: { service: secrets-manager, name_prefix: env/ } }\nsecrets:\n  - { name: api-key, description: API key }\n  - { name: db-url, description: Database URL, aws: { service: parameter-store, name: /env/db-url } }\n",
    );
    let generated = |name: &str, kind: CommandKind| {
        let spec = spec::load(spec.as_ref()).unwrap();
        let entry = spec.entries.iter().find(|e| e.name == name).unwrap();
        // What `greenlight commands` writes when the connection names no profile.
        commands::for_entry(entry, spec::Platform::Aws, &Target::default(), Shell::Posix)
            .unwrap()
            .into_iter()
            .find(|c| c.kind == kind)
            .unwrap()
            .text
    };
    let create = generated("api-key", CommandKind::Create);
    assert!(!create.contains("--profile"), "{create}");
    let environment = "export AWS_CONFIG_FILE=/nonexistent/config AWS_SHARED_CREDENTIALS_FILE=/nonexistent/credentials AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1\n";
    for (shell, name, value) in
        [("bash", "api-key", "env value 141\n"), ("zsh", "db-url", "env value 142\n")]
    {
        let script = format!("{environment}{}", generated(name, CommandKind::Create));
        let (ok, _, stderr) = moto.shell(shell, &script, value).await;
        assert!(ok, "{shell}: {stderr}\n{script}");
        let verify = format!("{environment}{}", generated(name, CommandKind::Verify));
        let (ok, shown, stderr) = moto.shell(shell, &verify, "").await;
        assert!(ok && !shown.contains("env value"), "{shell}: {stderr}\n{shown}");
    }
    // AWS_PROFILE, as the operator's shell may set it, is honoured the same way.
    let (ok, _, stderr) = moto
        .shell(
            "bash",
            &format!("export AWS_PROFILE=moto\n{}", generated("api-key", CommandKind::Verify)),
            "",
        )
        .await;
    assert!(ok, "{stderr}");
    moto.seeded.extend(["env value 141".to_owned(), "env value 142".to_owned()]);
    let (code, report) = check(&moto, &["--region", "us-east-1", &spec]).await;
    assert_eq!(code, Some(0), "{report:#}");
    moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_past_rotate_every_is_due_by_its_metadata_alone() {
    let mut moto = Moto::start().await;
    let spec = write(
        &moto,
        "version: 1
deployment: ages
platforms: [aws]
defaults: { aws: { region: us-east-1, service: secrets-manager }, rotate_every: 90d }
secrets:
  - { name: fresh-token, description: Changed just now }
  - { name: old-token, description: Rotated every second here, rotate_every: 1s }
  - { name: old-param, description: A parameter, rotate_every: 1s, aws: { service: parameter-store, name: /ages/old-param } }
",
    );
    moto.seed_secret("us-east-1", "fresh-token", "age-value-701").await;
    moto.seed_secret("us-east-1", "old-token", "age-value-702").await;
    moto.seed_parameter("us-east-1", "/ages/old-param", "SecureString", "age-value-703").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (code, report) = check(&moto, &[&spec]).await;
    assert_eq!(code, Some(0), "due does not change readiness: {report:#}");
    let fresh = row(&report, "fresh-token");
    assert!(fresh["changed_at"].as_str().is_some_and(|at| at.starts_with("20")), "{fresh:#}");
    assert_eq!(fresh["due"], false, "{fresh:#}");
    assert_eq!(fresh["rotate_every"], "90d", "{fresh:#}");
    for name in ["old-token", "old-param"] {
        let old = row(&report, name);
        assert_eq!(old["due"], true, "{old:#}");
        let advice = hints(old);
        assert!(advice.contains("Due for rotation") && advice.contains("aws "), "{advice}");
    }
    let (code, _) = check(&moto, &["--fail-on-due", &spec]).await;
    assert_eq!(code, Some(3), "--fail-on-due makes a due value fail the check");
    let (_, text, _) =
        moto.greenlight(&["check", "--platform", "aws", "--profile", "moto", &spec]).await;
    assert!(text.contains("due for rotation: last changed"), "{text}");
    moto.assert_value_free();
}
