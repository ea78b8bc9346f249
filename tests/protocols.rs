//! The protocol a service speaks (issue 14): probes, ports, addresses and
//! request metrics follow `protocol`, from the embedded standard library.

mod common;

use common::output_file as file;
use platc::Compiled;

const PLATFORM: &str = r#"workspace shop {
  registry = "ghcr.io/shop"
  repo     = "shop/platform"
  services = ["services/*"]
  environment staging { cluster = "s1" }
}
"#;

fn service(name: &str, from: &str, body: &str) -> String {
    format!(
        r#"service {name} from {from} {{
  owner    = "team-a"
  language = go
  tier     = gold
  version  = "1.0.0"
  digest   = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
{body}
}}
"#
    )
}

fn build(services: &[(&str, String)]) -> Compiled {
    common::compile_texts(PLATFORM, services)
}

fn shop() -> Compiled {
    build(&[
        ("catalog", service("catalog", "grpc-api", "  health { grpc_service = \"shop.Catalog\" }")),
        ("checkout", service("checkout", "grpc-api", "  port = 9000\n  depends_on = [catalog]")),
        ("front", service("front", "web-api", "  depends_on = [checkout, catalog]\n  env { CAT = catalog.addr }")),
        ("cache", service("cache", "web-api", "  protocol = tcp\n  port = 6379")),
        ("mailer", service("mailer", "worker", "  health { probes = false }\n  depends_on = [checkout]")),
    ])
}

#[test]
fn a_grpc_service_gets_grpc_probes_and_a_grpc_port() {
    let c = shop();
    let d = file(&c, "catalog/kubernetes/staging/deployment.yaml");
    assert!(d.contains("name: grpc\n"), "{d}");
    assert!(d.contains("grpc:\n"), "{d}");
    assert!(d.contains("service: shop.Catalog") || d.contains("service: \"shop.Catalog\""), "{d}");
    assert!(!d.contains("httpGet"), "{d}");
    let s = file(&c, "catalog/kubernetes/staging/service.yaml");
    assert!(s.contains("name: grpc\n      port: 50051\n      targetPort: grpc"), "{s}");
}

#[test]
fn dependents_get_the_address_of_the_dependency_service_port() {
    let c = shop();
    let cm = file(&c, "front/kubernetes/staging/configmap.yaml");
    assert!(cm.contains("CATALOG_ADDR: \"catalog.catalog.svc.cluster.local:50051\""), "{cm}");
    assert!(cm.contains("CATALOG_URL: \"catalog.catalog.svc.cluster.local:50051\""), "{cm}");
    assert!(cm.contains("CHECKOUT_ADDR: \"checkout.checkout.svc.cluster.local:9000\""), "{cm}");
    assert!(cm.contains("CAT: \"catalog.catalog.svc.cluster.local:50051\""), "{cm}");
    // An http dependency keeps its URL, and gets an address on port 80.
    let mailer =
        build(&[("api", service("api", "web-api", "")), ("w", service("w", "worker", "  depends_on = [api]"))]);
    let cm = file(&mailer, "w/kubernetes/staging/configmap.yaml");
    assert!(cm.contains("API_URL: \"http://api.api.svc.cluster.local\""), "{cm}");
    assert!(cm.contains("API_ADDR: \"api.api.svc.cluster.local:80\""), "{cm}");
}

#[test]
fn a_grpc_service_slos_use_grpc_metrics() {
    let c = shop();
    let r = file(&c, "catalog/alerts/staging/rules.yaml");
    assert!(r.contains("grpc_server_handled_total"), "{r}");
    assert!(r.contains("grpc_code=~'Unknown|DeadlineExceeded|Unimplemented|Internal|Unavailable|DataLoss'"), "{r}");
    assert!(!r.contains("http_requests_total"), "{r}");
    let dash = file(&c, "catalog/dashboards/dashboard.json");
    assert!(dash.contains("grpc_server_handling_seconds_bucket"), "{dash}");
    assert!(!dash.contains("http_request"), "{dash}");
}

#[test]
fn a_tcp_service_gets_tcp_socket_probes_and_no_request_sli() {
    let c = shop();
    let d = file(&c, "cache/kubernetes/staging/deployment.yaml");
    assert!(d.contains("tcpSocket:\n"), "{d}");
    assert!(!d.contains("httpGet"), "{d}");
    let s = file(&c, "cache/kubernetes/staging/service.yaml");
    assert!(s.contains("name: tcp\n      port: 6379\n      targetPort: tcp"), "{s}");
    let r = file(&c, "cache/alerts/staging/rules.yaml");
    assert!(!r.contains("slo:sli_error"), "{r}");
    assert!(r.contains("ReplicasUnavailable"), "{r}");
}

#[test]
fn a_worker_can_turn_probes_off() {
    let c = shop();
    let d = file(&c, "mailer/kubernetes/staging/deployment.yaml");
    assert!(!d.contains("livenessProbe"), "{d}");
    assert!(!d.contains("readinessProbe"), "{d}");
}

#[test]
fn readiness_has_its_own_period() {
    let c = build(&[("api", service("api", "web-api", "  health { period = 20s  readiness_period = 3s }"))]);
    let d = file(&c, "api/kubernetes/staging/deployment.yaml");
    assert!(d.contains("periodSeconds: 20"), "{d}");
    assert!(d.contains("periodSeconds: 3"), "{d}");
}

#[test]
fn a_grpc_service_is_scraped_on_its_metrics_port() {
    let c = shop();
    let m = file(&c, "catalog/kubernetes/staging/servicemonitor.yaml");
    assert!(m.contains("port: metrics"), "{m}");
    let s = file(&c, "catalog/kubernetes/staging/service.yaml");
    assert!(s.contains("name: metrics\n      port: 9090\n      targetPort: metrics"), "{s}");
    let n = file(&c, "catalog/kubernetes/staging/networkpolicy.yaml");
    assert!(n.contains("kubernetes.io/metadata.name: monitoring\n      ports:\n        - port: 9090"), "{n}");
}
