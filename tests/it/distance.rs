//! A far or busy cluster: the first round's requests per namespace, 429s retried after the
//! server's Retry-After, access reviews only where the rules review cannot tell, and rows
//! decided as their namespace answers (the window's progressive fill is in `ui.rs`).

use greenlight_testkit::apiserver::Rule;
use greenlight_testkit::{Cluster, row, write_spec};

/// A spec of `namespaces` namespaces, two Secrets each (`s-N-0` is seeded, `s-N-1` is not).
fn spread(cluster: &mut Cluster, namespaces: usize) -> String {
    let mut text =
        String::from("version: 1\ndeployment: spread\nplatforms: [kubernetes]\nsecrets:\n");
    for n in 0..namespaces {
        let namespace = format!("team-{n}");
        cluster.server.create_namespace(&namespace);
        cluster.seed(&namespace, &format!("s-{n}-0"), &[("k", &format!("spread-value-{n:03}"))]);
        for i in 0..2 {
            text.push_str(&format!(
                "  - {{ name: s-{n}-{i}, description: d, kubernetes: {{ namespace: {namespace}, keys: [k] }} }}\n"
            ));
        }
    }
    write_spec(cluster.dir.path(), &text).display().to_string()
}

async fn check(cluster: &Cluster, args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) =
        cluster.greenlight(&[&["check", "--format", "json"], args].concat()).await;
    assert_eq!(code, Some(3), "half the Secrets are missing: {stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {stdout}\n{stderr}"))
}

fn assert_spread(report: &serde_json::Value, namespaces: usize) {
    for n in 0..namespaces {
        assert_eq!(row(report, &format!("s-{n}-0"))["state"], "present", "{report:#}");
        assert_eq!(row(report, &format!("s-{n}-1"))["state"], "missing", "{report:#}");
    }
}

/// Greenlight's requests so far.
fn requests(cluster: &Cluster) -> Vec<String> {
    cluster
        .server
        .records()
        .into_iter()
        .filter(|r| r.user_agent.starts_with("greenlight/"))
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_round_asks_at_most_three_requests_per_namespace() {
    const NAMESPACES: usize = 12;
    // Rights granted namespace by namespace: nothing cluster-wide answers for them.
    let rules = (0..NAMESPACES)
        .map(|n| {
            Rule::new(
                &["get", "list", "watch", "create", "patch"],
                &["secrets"],
                Some(&format!("team-{n}")),
            )
        })
        .collect();
    let mut cluster = Cluster::start_with(rules).await;
    let spec = spread(&mut cluster, NAMESPACES);
    assert_spread(&check(&cluster, &[&spec]).await, NAMESPACES);
    let asked = requests(&cluster);
    // Per namespace: a rules review and a list (a missing Secret's write access comes from the
    // same rules); besides: who am I, the cluster-wide review, the search for other namespaces.
    assert!(asked.len() <= 3 * NAMESPACES + 8, "{} requests: {asked:#?}", asked.len());
    assert!(!asked.iter().any(|r| r.ends_with(" 403")), "nothing refused is tried: {asked:#?}");
    let reviews = asked.iter().filter(|r| r.contains("selfsubjectaccessreviews")).count();
    assert!(reviews <= 5, "access reviews only where rules cannot tell: {asked:#?}");

    // An operator who may read and write Secrets everywhere: no review per namespace.
    cluster.server.clear_records();
    assert_spread(&check(&cluster, &["--context", "admin", &spec]).await, NAMESPACES);
    let asked = requests(&cluster);
    assert!(asked.len() <= NAMESPACES + 10, "{} requests: {asked:#?}", asked.len());
    assert!(!asked.iter().any(|r| r.contains("selfsubjectrulesreviews")), "{asked:#?}");
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_answer_is_asked_again_after_retry_after() {
    let mut cluster = Cluster::start_with(vec![Rule::new(
        &["get", "list", "watch", "create", "patch"],
        &["secrets", "namespaces"],
        None,
    )])
    .await;
    let spec = spread(&mut cluster, 3);
    cluster.server.throttle(4);
    assert_spread(&check(&cluster, &[&spec]).await, 3);
    let asked = requests(&cluster);
    let throttled = asked.iter().filter(|r| r.ends_with(" 429")).count();
    assert_eq!(throttled, 4, "{asked:#?}");
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_rules_fall_back_to_access_reviews() {
    // Get only, in one namespace; the rules review says another authorizer also decides.
    let mut cluster = Cluster::start_with(vec![Rule::new(
        &["get", "create", "patch"],
        &["secrets", "namespaces"],
        Some("team-0"),
    )])
    .await;
    let spec = spread(&mut cluster, 1);
    cluster.server.set_rules_incomplete(true);
    assert_spread(&check(&cluster, &[&spec]).await, 1);
    let asked = requests(&cluster);
    assert!(
        asked.iter().any(|r| r.contains("selfsubjectaccessreviews")),
        "a missing rule proves nothing when the rules are incomplete: {asked:#?}"
    );
    assert!(
        !asked.iter().any(|r| r.starts_with("GET /api/v1/namespaces/team-0/secrets ")),
        "the access review said no list: {asked:#?}"
    );
    cluster.assert_value_free();
}
