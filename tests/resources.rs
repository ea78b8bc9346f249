//! Issue 14, points 1, 6 and 7: addresses in interpolated strings, resource
//! types that run in the cluster or on a named cloud, and resources shared
//! across services by a grant of their owner.

mod common;

use common::{output_file as file, service};
use platc::Compiled;

fn platform(cloud: &str) -> String {
    format!(
        r#"workspace harbor {{
  registry = "registry.harbor.example/apps"
  repo     = "harbor/platform"
  cloud    = {cloud}
  services = ["services/*"]
  environment staging {{ cluster = "s1" }}
}}
"#
    )
}

fn build_on(cloud: &str, services: &[(&str, String)]) -> Compiled {
    common::compile_texts(&platform(cloud), services)
}

fn build(services: &[(&str, String)]) -> Compiled {
    build_on(r#"aws { region = "eu-central-1" }"#, services)
}

fn has_file(c: &Compiled, path: &str) -> bool {
    c.output.as_ref().is_some_and(|o| o.files.contains_key(path))
}

/// The diagnostics of one code, as `message | help`.
fn errors(c: &Compiled, code: &str) -> Vec<String> {
    c.diagnostics
        .iter()
        .filter(|d| d.code == code)
        .map(|d| format!("{} | {}", d.message, d.help.clone().unwrap_or_default()))
        .collect()
}

// 1. Addresses in interpolation.

#[test]
fn a_string_interpolates_another_services_address_with_its_service_port() {
    let c = build(&[
        ("ledger", service("ledger", "grpc-api", "  port = 7000")),
        ("front", service("front", "web-api", "")),
        (
            "w",
            service(
                "w",
                "worker",
                r#"  depends_on = [ledger, front]
  description = "calls ${ledger.host}"
  env {
    LEDGER = "dns:///${ledger.addr}"
    FRONT  = "${front.host}:${front.port}"
    HOME   = "${front.url}/home"
    ABOUT  = "${service.description}"
  }
  args = ["--ledger=${ledger.addr}"]"#,
            ),
        ),
    ]);
    let cm = file(&c, "w/kubernetes/staging/configmap.yaml");
    assert!(cm.contains("LEDGER: \"dns:///ledger.ledger.svc.cluster.local:7000\""), "{cm}");
    assert!(cm.contains("FRONT: \"front.front.svc.cluster.local:80\""), "{cm}");
    assert!(cm.contains("HOME: \"http://front.front.svc.cluster.local/home\""), "{cm}");
    // A string named through another string gets the address too.
    assert!(cm.contains("ABOUT: calls ledger.ledger.svc.cluster.local\n"), "{cm}");
    let d = file(&c, "w/kubernetes/staging/deployment.yaml");
    assert!(d.contains("--ledger=ledger.ledger.svc.cluster.local:7000"), "{d}");
}

#[test]
fn an_address_of_a_service_not_depended_on_is_an_error() {
    let c = build(&[
        ("ledger", service("ledger", "grpc-api", "")),
        ("w", service("w", "worker", "  env { L = \"${ledger.addr}\"  M = ledger.url }")),
    ]);
    let e = errors(&c, "platc::check::undeclared_dependency");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e.iter().all(|m| m.contains("add `depends_on = [ledger]`")), "{e:?}");
    assert!(c.output.is_none());
}

#[test]
fn unknown_services_and_parts_in_a_string_are_errors_with_a_hint() {
    let c = build(&[
        ("ledger", service("ledger", "grpc-api", "")),
        (
            "w",
            service(
                "w",
                "worker",
                "  depends_on = [ledger]\n  env { L = \"${ledgr.addr}\"  P = \"${ledger.adress}\" }",
            ),
        ),
    ]);
    let e = errors(&c, "platc::check::unknown_reference");
    assert!(e.iter().any(|m| m.contains("`ledgr`") && m.contains("did you mean `ledger`?")), "{e:?}");
    let e = errors(&c, "platc::check::unknown_output");
    assert!(e.iter().any(|m| m.contains("no output `adress`") && m.contains("`addr`")), "{e:?}");
}

#[test]
fn secrets_are_never_interpolated() {
    let c = build(&[
        (
            "orders",
            service(
                "orders",
                "web-api",
                "  resource queue events { grants { w = consume } }\n  resource postgres db {}\n  env { D = \"x-${db.url}\" }",
            ),
        ),
        ("w", service("w", "worker", "  env { Q = \"q=${orders.events.url}\" }")),
    ]);
    let e = errors(&c, "platc::resolve::bad_interpolation");
    assert!(e.iter().any(|m| m.contains("`${db.url}` is a secret") && m.contains("`NAME = db.url`")), "{e:?}");
    assert!(e.iter().any(|m| m.contains("`${orders.events.url}` is a secret")), "{e:?}");
    assert!(c.output.is_none());
}

// 2. In-cluster resources and clouds.

#[test]
fn an_in_cluster_cache_runs_in_the_owners_namespace_reachable_by_owner_and_grantees_only() {
    let c = build(&[
        (
            "bookings",
            service(
                "bookings",
                "grpc-api",
                "  resource cache slots { grants { web = use } }\n  env { SLOTS = slots.addr }",
            ),
        ),
        ("web", service("web", "web-api", "  env { SLOTS = \"${bookings.slots.addr}\"  URL = bookings.slots.url }")),
    ]);
    let r = file(&c, "bookings/kubernetes/staging/resource-slots.yaml");
    for kind in ["ServiceAccount", "Deployment", "Service", "NetworkPolicy"] {
        assert!(r.contains(&format!("kind: {kind}\n")), "{kind}: {r}");
    }
    assert!(r.contains("name: bookings-slots\n  namespace: bookings"), "{r}");
    assert!(r.contains("image: \"docker.io/library/redis:7.4-alpine@sha256:"), "{r}");
    // A vendor's image: the deploy checks its pin, not a workspace signature.
    let deploy = file(&c, ".github/workflows/bookings-deploy.yml");
    assert!(deploy.contains("vendor_images: \"docker.io/library/redis:7.4-alpine@sha256:"), "{deploy}");
    assert!(r.contains("readOnlyRootFilesystem: true"), "{r}");
    // Ingress from the owner's pods and the grantee's, nothing else; no egress.
    assert!(r.contains("app.kubernetes.io/name: bookings\n"), "{r}");
    assert!(r.contains("kubernetes.io/metadata.name: web\n"), "{r}");
    assert!(r.contains("egress: []"), "{r}");
    // Plain in-cluster addresses, not secrets.
    let cm = file(&c, "bookings/kubernetes/staging/configmap.yaml");
    assert!(cm.contains("SLOTS: \"bookings-slots.bookings.svc.cluster.local:6379\""), "{cm}");
    let cm = file(&c, "web/kubernetes/staging/configmap.yaml");
    assert!(cm.contains("SLOTS: \"bookings-slots.bookings.svc.cluster.local:6379\""), "{cm}");
    assert!(cm.contains("URL: \"redis://bookings-slots.bookings.svc.cluster.local:6379\""), "{cm}");
    // The grantee may reach the cache's port.
    let np = file(&c, "web/kubernetes/staging/networkpolicy.yaml");
    assert!(np.contains("port: 6379"), "{np}");
    // No Terraform for a resource that runs in the cluster.
    assert!(!has_file(&c, "bookings/terraform/staging/main.tf"));
    assert!(!has_file(&c, "web/terraform/staging/main.tf"));
}

#[test]
fn a_gcp_workspace_takes_in_cluster_types_and_refuses_aws_ones() {
    let c = build_on(
        r#"gcp { region = "europe-west1" }"#,
        &[("bookings", service("bookings", "grpc-api", "  resource cache slots {}"))],
    );
    assert!(has_file(&c, "bookings/kubernetes/staging/resource-slots.yaml"), "{:#?}", c.diagnostics);
    let c = build_on(
        r#"gcp { region = "europe-west1" }"#,
        &[("bookings", service("bookings", "grpc-api", "  resource queue events {}"))],
    );
    let e = errors(&c, "platc::resolve::cloud_unsupported");
    assert!(e.iter().any(|m| m.contains("`queue` is not offered on `gcp`") && m.contains("use `cache`")), "{e:?}");
    let c = build_on(r#"azure { region = "westeurope" }"#, &[("b", service("b", "grpc-api", ""))]);
    assert!(errors(&c, "platc::workspace::bad_value").iter().any(|m| m.contains("unknown cloud `azure`")));
}

// 3. Cross-service resources with grants.

fn producer_consumer(level: &str) -> Compiled {
    build(&[
        (
            "bookings",
            service(
                "bookings",
                "grpc-api",
                &format!(
                    "  resource queue booking-events {{ grants {{ dispatch = {level} }} }}\n  env {{ Q = booking-events.url }}"
                ),
            ),
        ),
        ("dispatch", service("dispatch", "worker", "  env { EVENTS = bookings.booking-events.url }")),
    ])
}

#[test]
fn a_granted_queue_reaches_the_consumer_as_its_owners_secret_and_exactly_the_granted_actions() {
    let c = producer_consumer("consume");
    let es = file(&c, "dispatch/kubernetes/staging/externalsecret.yaml");
    assert!(es.contains("name: bookings-booking-events\n  namespace: dispatch"), "{es}");
    assert!(es.contains("key: bookings/staging/booking-events"), "{es}");
    let d = file(&c, "dispatch/kubernetes/staging/deployment.yaml");
    assert!(d.contains("EVENTS_FILE"), "{d}");
    let tf = file(&c, "dispatch/terraform/staging/grant-bookings-booking-events.tf");
    assert!(tf.contains("\"sqs:ReceiveMessage\""), "{tf}");
    assert!(!tf.contains("sqs:SendMessage"), "{tf}");
    assert!(tf.contains("name = \"bookings-booking-events-staging\""), "{tf}");
    assert!(tf.contains("role   = aws_iam_role.workload.id"), "{tf}");
    assert!(has_file(&c, "dispatch/terraform/staging/main.tf"));
    let np = file(&c, "dispatch/kubernetes/staging/networkpolicy.yaml");
    assert!(np.contains("169.254.170.23/32"), "the pod identity agent: {np}");
    // The catalog relates the consumer to the owner's resource.
    let cat = file(&c, "dispatch/catalog-info.yaml");
    assert!(cat.contains("dependsOn:\n    - \"resource:bookings-booking-events\"\n"), "{cat}");
    // The owner comes first.
    let g = c.graph.as_ref().unwrap();
    assert_eq!(g.order, vec!["bookings".to_string(), "dispatch".to_string()]);
    assert_eq!(g.resource_users("bookings"), vec!["dispatch"]);
    assert!(g.affected(&["bookings".to_string()].into()).contains("dispatch"));
    assert!(g.dependents("bookings").is_empty(), "a grant is no network path to the owner");

    let c = producer_consumer("produce");
    let tf = file(&c, "dispatch/terraform/staging/grant-bookings-booking-events.tf");
    assert!(tf.contains("\"sqs:SendMessage\"") && !tf.contains("sqs:ReceiveMessage"), "{tf}");
}

#[test]
fn a_resource_not_granted_is_refused() {
    let c = build(&[
        ("bookings", service("bookings", "grpc-api", "  resource queue booking-events {}")),
        ("dispatch", service("dispatch", "worker", "  env { EVENTS = bookings.booking-events.url }")),
    ]);
    let e = errors(&c, "platc::check::not_granted");
    assert!(e.iter().any(|m| m.contains("dispatch = produce | consume")), "{e:?}");
    let c = build(&[
        (
            "bookings",
            service("bookings", "grpc-api", "  resource queue booking-events { grants { dispatch = admin } }"),
        ),
        ("dispatch", service("dispatch", "worker", "")),
    ]);
    assert!(!errors(&c, "platc::check::unknown_symbol").is_empty(), "{:#?}", c.diagnostics);
    let c = build(&[(
        "bookings",
        service("bookings", "grpc-api", "  resource queue booking-events { grants { bookings = consume } }"),
    )]);
    assert!(errors(&c, "platc::check::bad_grant").iter().any(|m| m.contains("to itself")));
    let c = build(&[
        ("bookings", service("bookings", "grpc-api", "  resource queue booking-events {}")),
        ("dispatch", service("dispatch", "worker", "  env { EVENTS = bookings.booking-event.url }")),
    ]);
    let e = errors(&c, "platc::check::unknown_reference");
    assert!(e.iter().any(|m| m.contains("did you mean `booking-events`?")), "{e:?}");
}

#[test]
fn a_string_with_an_address_is_still_scanned_for_secrets() {
    let c = build(&[
        ("users", service("users", "grpc-api", "")),
        ("w", service("w", "worker", "  depends_on = [users]\n  env { API_TOKEN = \"tok-${users.host}\" }")),
    ]);
    let e = errors(&c, "platc::check::plaintext_secret");
    assert!(e.iter().any(|m| m.contains("`API_TOKEN` of `w` holds a secret")), "{:#?}", c.diagnostics);
    assert!(c.output.is_none());
}

/// The grants of the other managed types (tests/workspaces/grants): a bucket
/// granted `read` or `write` gives the grantee's workload role exactly the
/// level's S3 actions on that bucket and its objects, and the key actions
/// on the owner's key; a database or Redis granted `connect` is the owner's
/// secret in the grantee's namespace and the port in its egress, and no
/// Terraform at all (no IAM in their authentication).
#[test]
fn a_granted_bucket_database_and_redis_reach_their_grantees_with_exactly_their_level() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workspaces/grants");
    let c = common::compile(&root);
    let read = file(&c, "thumbs/terraform/staging/grant-media-images.tf");
    let write = file(&c, "uploader/terraform/staging/grant-media-images.tf");
    for (tf, objects, key) in [
        (&read, r#"["s3:GetObject"]"#, r#"["kms:Decrypt"]"#),
        (&write, r#"["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]"#, r#"["kms:Decrypt", "kms:GenerateDataKey"]"#),
    ] {
        assert!(tf.contains(r#"bucket = "mediahub-media-images-staging""#), "{tf}");
        assert!(tf.contains(r#"actions   = ["s3:ListBucket"]"#), "{tf}");
        assert!(tf.contains(&format!("actions   = {objects}")), "{tf}");
        assert!(tf.contains(&format!("actions   = {key}")), "{tf}");
        assert!(tf.contains(r#"resources = ["${data.aws_s3_bucket.media_images.arn}/*"]"#), "{tf}");
        assert!(tf.contains(r#"name = "alias/platc/media/staging""#), "{tf}");
    }
    assert!(!read.contains("s3:PutObject"), "read writes nothing: {read}");
    // connect: the secrets, the ports, no Terraform.
    assert!(!has_file(&c, "reports/terraform/staging/main.tf"), "a connect grant writes no Terraform");
    let secrets = file(&c, "reports/kubernetes/staging/externalsecret.yaml");
    assert!(secrets.contains("key: media/staging/db") && secrets.contains("key: media/staging/hot"), "{secrets}");
    let policy = file(&c, "reports/kubernetes/staging/networkpolicy.yaml");
    assert!(policy.contains("port: 5432") && policy.contains("port: 6379"), "{policy}");
    assert!(!policy.contains("169.254.170.23"), "no Pod Identity agent without a workload role: {policy}");
}
