//! Issue 14: how a service is exposed (`expose.via`), exec probes and probe
//! headers, a workload without a port, the pod's extra parts (init
//! containers, scratch volumes, grace period, annotations, container name)
//! and vendor images, from the embedded standard library.

mod common;

use common::{output_file as file, service};
use platc::Compiled;

use common::SHOP as PLATFORM;

const DIGEST: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
const BUSYBOX: &str =
    "docker.io/library/busybox:1.36.1@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7";

fn build_in(platform: &str, services: &[(&str, String)]) -> Compiled {
    common::compile_texts(platform, services)
}

fn build(services: &[(&str, String)]) -> Compiled {
    build_in(PLATFORM, services)
}

fn has_file(c: &Compiled, path: &str) -> bool {
    c.output.as_ref().unwrap_or_else(|| panic!("builds: {:#?}", c.diagnostics)).files.contains_key(path)
}

/// The errors of a build that must fail, as `code: message` lines.
fn errors(c: &Compiled) -> String {
    assert!(c.output.is_none(), "must not build");
    c.diagnostics.iter().filter(|d| d.is_error()).map(|d| format!("{}: {}\n", d.code, d.message)).collect()
}

// --- Exposure -------------------------------------------------------------

#[test]
fn a_load_balancer_is_a_public_service_of_its_own_open_to_the_world() {
    let c = build(&[(
        "web",
        service("web", "web-api", "  expose {\n    via  = load_balancer\n    host = \"www.shop.example\"\n  }"),
    )]);
    let p = file(&c, "web/kubernetes/staging/service-public.yaml");
    assert!(p.contains("name: web-public\n"), "{p}");
    assert!(p.contains("type: LoadBalancer\n"), "{p}");
    assert!(p.contains("service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing"), "{p}");
    assert!(p.contains("service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip"), "{p}");
    assert!(p.contains("external-dns.alpha.kubernetes.io/hostname: www.shop.example"), "{p}");
    assert!(p.contains("platc.dev/exposure: public"), "{p}");
    assert!(p.contains("name: http\n      port: 80\n      targetPort: http"), "{p}");
    assert!(!p.contains("metrics"), "the metrics port stays inside: {p}");
    // The in-cluster Service is unchanged, and there is no Ingress.
    let s = file(&c, "web/kubernetes/staging/service.yaml");
    assert!(s.contains("type: ClusterIP"), "{s}");
    assert!(!has_file(&c, "web/kubernetes/staging/ingress.yaml"));
    // Clients from anywhere, on the container port.
    let n = file(&c, "web/kubernetes/staging/networkpolicy.yaml");
    assert!(n.contains("- ipBlock:\n            cidr: \"0.0.0.0/0\"\n        - ipBlock:\n            cidr: \"::/0\"\n      ports:\n        - port: 8080"), "{n}");
    assert!(!n.contains("ingress-nginx"), "{n}");
    // Prometheus scrapes the pods once, through the in-cluster Service.
    let m = file(&c, "web/kubernetes/staging/servicemonitor.yaml");
    assert!(m.contains("key: platc.dev/exposure\n        operator: DoesNotExist"), "{m}");
}

#[test]
fn a_node_port_has_no_load_balancer_annotations_and_tcp_may_use_it() {
    let c = build(&[(
        "cache",
        service("cache", "web-api", "  protocol = tcp\n  port = 6379\n  expose { via = node_port }"),
    )]);
    let p = file(&c, "cache/kubernetes/staging/service-public.yaml");
    assert!(p.contains("type: NodePort\n"), "{p}");
    assert!(!p.contains("aws-load-balancer"), "{p}");
    assert!(!p.contains("external-dns"), "{p}");
    assert!(p.contains("name: tcp\n      port: 6379\n      targetPort: tcp"), "{p}");
}

#[test]
fn an_ingress_stays_as_it_was_and_needs_a_host() {
    let c = build(&[("web", service("web", "web-api", "  expose { via = ingress  host = \"shop.example\" }"))]);
    assert!(has_file(&c, "web/kubernetes/staging/ingress.yaml"));
    assert!(!has_file(&c, "web/kubernetes/staging/service-public.yaml"));
    let m = file(&c, "web/kubernetes/staging/servicemonitor.yaml");
    assert!(!m.contains("matchExpressions"), "{m}");

    let c = build(&[("web", service("web", "web-api", "  expose { via = ingress }"))]);
    assert!(errors(&c).contains("platc::check::bad_expose: `expose` through the ingress needs a `host`"));
    let c = build(&[("web", service("web", "web-api", "  expose { via = load_balancer  path = \"/x\" }"))]);
    assert!(errors(&c).contains("platc::check::bad_expose: a load balancer routes the whole port"));
    // A tcp service through the ingress is still an error of its own.
    let c = build(&[("c", service("c", "web-api", "  protocol = tcp\n  expose { host = \"c.example\" }"))]);
    assert!(errors(&c).contains("platc::check::expose_tcp"));
}

// --- Probes and ports -----------------------------------------------------

#[test]
fn an_exec_probe_replaces_the_protocol_probe() {
    let c = build(&[("q", service("q", "grpc-api", "  health { command = [\"/bin/check\", \"--ready\"] }"))]);
    let d = file(&c, "q/kubernetes/staging/deployment.yaml");
    assert_eq!(d.matches("exec:\n").count(), 2, "{d}");
    assert!(d.contains("command:\n                - /bin/check\n                - \"--ready\""), "{d}");
    assert!(!d.contains("grpc:\n"), "{d}");
}

#[test]
fn http_probes_send_the_headers() {
    let c = build(&[("web", service("web", "web-api", "  health { headers { Host = \"web.internal\" } }"))]);
    let d = file(&c, "web/kubernetes/staging/deployment.yaml");
    assert_eq!(
        d.matches("httpHeaders:\n                - name: Host\n                  value: web.internal").count(),
        2,
        "{d}"
    );
    let c = build(&[("q", service("q", "grpc-api", "  health { headers { Host = \"q\" } }"))]);
    assert!(errors(&c).contains("`health.headers` are sent by HTTP probes only"));
}

#[test]
fn a_worker_without_a_port_has_no_port_probe_monitor_or_absent_alert() {
    let c = build(&[("w", service("w", "worker", "  port = null\n  health { probes = false }"))]);
    let d = file(&c, "w/kubernetes/staging/deployment.yaml");
    assert!(!d.contains("ports:"), "{d}");
    assert!(!d.contains("containerPort"), "{d}");
    assert!(!d.contains("Probe"), "{d}");
    assert!(d.contains("checkov.io/skip-CKV_K8S_8"), "{d}");
    assert!(!has_file(&c, "w/kubernetes/staging/servicemonitor.yaml"));
    let r = file(&c, "w/alerts/staging/rules.yaml");
    assert!(!r.contains("MetricsAbsent"), "{r}");
    assert!(r.contains("ReplicasUnavailable"), "{r}");
    let n = file(&c, "w/kubernetes/staging/networkpolicy.yaml");
    assert!(n.contains("ingress: []"), "{n}");
    assert!(!n.contains("monitoring"), "{n}");
    // Something that depends on it (for the deploy order) has no port to call.
    let c = build(&[
        ("w", service("w", "worker", "  port = null\n  health { probes = false }")),
        ("api", service("api", "web-api", "  depends_on = [w]")),
    ]);
    let n = file(&c, "w/kubernetes/staging/networkpolicy.yaml");
    assert!(n.contains("ingress: []") && !n.contains("null"), "{n}");

    // With metrics on a port of their own, it is scraped there, and only there.
    let c =
        build(&[("w", service("w", "worker", "  port = null\n  metrics_port = 9100\n  health { probes = false }"))]);
    let d = file(&c, "w/kubernetes/staging/deployment.yaml");
    assert!(d.contains("name: metrics\n              containerPort: 9100"), "{d}");
    assert!(!d.contains("name: http"), "{d}");
    let m = file(&c, "w/kubernetes/staging/servicemonitor.yaml");
    assert!(m.contains("kind: PodMonitor") && m.contains("port: metrics"), "{m}");
    assert!(file(&c, "w/alerts/staging/rules.yaml").contains("MetricsAbsent"));

    // An exec probe needs no port.
    let c = build(&[("w", service("w", "worker", "  port = null\n  health { command = [\"true\"] }"))]);
    assert!(file(&c, "w/kubernetes/staging/deployment.yaml").contains("exec:"));
}

#[test]
fn a_portless_workload_must_say_how_it_is_probed_and_a_service_needs_a_port() {
    let c = build(&[("w", service("w", "worker", "  port = null"))]);
    assert!(errors(&c).contains("platc::check::bad_pod: a workload without a port has nothing to probe"));
    let c = build(&[("s", service("s", "web-api", "  port = null\n  health { probes = false }"))]);
    assert!(
        errors(&c).contains("platc::check::bad_pod: a `workload = service` has a Service, and a Service needs a port")
    );
}

// --- The pod ----------------------------------------------------------------

#[test]
fn init_containers_are_hardened_like_the_app() {
    let body = format!(
        "  init {{\n    wait {{\n      image = \"{BUSYBOX}\"\n      command = [\"sh\", \"-c\", \"true\"]\n    }}\n    migrate {{ args = [\"migrate\"] }}\n  }}"
    );
    let c = build(&[("api", service("api", "web-api", &body))]);
    let d = file(&c, "api/kubernetes/staging/deployment.yaml");
    let init = d.split("initContainers:").nth(1).and_then(|s| s.split("\n      containers:").next()).unwrap_or("");
    // In the order of their names; without an image, the service's own.
    let migrate = init.find("- name: migrate").expect(&d);
    let wait = init.find("- name: wait").expect(&d);
    assert!(migrate < wait, "{init}");
    assert!(init.contains(&format!("image: \"ghcr.io/shop/api:1.0.0@{DIGEST}\"")), "{init}");
    assert!(init.contains(&format!("image: \"{BUSYBOX}\"")), "{init}");
    assert_eq!(init.matches("allowPrivilegeEscalation: false").count(), 2, "{init}");
    assert_eq!(init.matches("readOnlyRootFilesystem: true").count(), 2, "{init}");
    assert_eq!(init.matches("drop:\n                - ALL").count(), 2, "{init}");
    assert_eq!(init.matches("limits:\n              cpu: 1000m\n              memory: 512Mi").count(), 2, "{init}");
    assert_eq!(init.matches("name: api-config").count(), 2, "{init}");
    assert_eq!(init.matches("mountPath: /tmp").count(), 2, "{init}");

    let c = build(&[("api", service("api", "web-api", "  init { app { args = [\"x\"] } }"))]);
    assert!(errors(&c).contains("the init container `app` has the app container's name"));
}

#[test]
fn scratch_volumes_grace_annotations_and_the_container_name() {
    let body = r#"  scratch {
    cache { path = "/var/cache/api"  size = 1Gi }
    tmp   { size = 64Mi }
  }
  termination_grace = 2m
  container_name    = "server"
  pod_annotations { "example.com/owner" = "team-a" }"#;
    let c = build(&[("api", service("api", "web-api", body))]);
    let d = file(&c, "api/kubernetes/staging/deployment.yaml");
    assert!(d.contains("- name: tmp\n          emptyDir:\n            sizeLimit: 64Mi"), "{d}");
    assert!(d.contains("- name: scratch-cache\n          emptyDir:\n            sizeLimit: 1Gi"), "{d}");
    assert!(d.contains("- name: scratch-cache\n              mountPath: /var/cache/api"), "{d}");
    assert!(d.contains("- name: tmp\n              mountPath: /tmp"), "{d}");
    assert!(d.contains("terminationGracePeriodSeconds: 120"), "{d}");
    assert!(d.contains("containers:\n        - name: server\n"), "{d}");
    assert!(d.contains("platc.dev/config-hash:") && d.contains("example.com/owner: team-a"), "{d}");

    for (body, want) in [
        ("  scratch { a { path = \"var/a\" } }", "is not a mount path"),
        ("  scratch { a { path = \"/tmp/a\" } }", "overlaps `tmp`"),
        ("  scratch { a { size = 1Gi } }", "has no `path`"),
        ("  scratch { a { path = \"/var/run/secrets/platc/x\" } }", "overlaps the secrets"),
        ("  pod_annotations { \"platc.dev/config-hash\" = \"x\" }", "one of platc's own annotations"),
        ("  pod_annotations { \"a b\" = \"x\" }", "is not an annotation key"),
        ("  health { headers { \"X Probe\" = \"x\" } }", "is not an HTTP header name"),
        ("  init { Wait { args = [\"x\"] } }", "cannot name an init container"),
    ] {
        let c = build(&[("api", service("api", "web-api", body))]);
        let e = errors(&c);
        assert!(e.contains("platc::check::bad_pod") && e.contains(want), "{body}: {e}");
    }
}

// --- Vendor images ------------------------------------------------------------

fn redis(extra: &str) -> String {
    format!(
        r#"service redis from web-api {{
  owner        = "team-a"
  image_source = vendor
  image        = "docker.io/library/redis"
  version      = "7.2.4"
  digest       = "{DIGEST}"
  protocol     = tcp
  port         = 6379
  autoscale {{ enabled = false }}
{extra}
}}
"#
    )
}

#[test]
fn a_vendor_service_has_no_ci_and_its_deploy_checks_the_pin() {
    // No `language`: nothing is built.
    let c = build(&[("redis", redis(""))]);
    assert!(!has_file(&c, ".github/workflows/redis-ci.yml"));
    let d = file(&c, ".github/workflows/redis-deploy.yml");
    assert!(d.contains(&format!("vendor_images: \"docker.io/library/redis:7.2.4@{DIGEST}\"")), "{d}");
    let k = file(&c, "redis/kubernetes/staging/deployment.yaml");
    assert!(k.contains(&format!("image: \"docker.io/library/redis:7.2.4@{DIGEST}\"")), "{k}");
    let w = file(&c, ".github/workflows/platc-deploy.yml");
    assert!(w.contains("VENDOR_IMAGES: \"${{ inputs.vendor_images }}\""), "{w}");
    // A built service's deploy names no vendor image; with an init container's, it does.
    let c = build(&[("api", service("api", "web-api", &format!("  init {{ w {{ image = \"{BUSYBOX}\" }} }}")))]);
    assert!(file(&c, ".github/workflows/api-deploy.yml").contains(&format!("vendor_images: \"{BUSYBOX}\"")));
    assert!(has_file(&c, ".github/workflows/api-ci.yml"));
    let c = build(&[("api", service("api", "web-api", ""))]);
    assert!(!file(&c, ".github/workflows/api-deploy.yml").contains("vendor_images"));
}

#[test]
fn vendor_images_come_from_the_registries_the_workspace_lists() {
    let quay = redis("").replace("docker.io/library/redis", "quay.io/opstree/redis");
    let c = build(&[("redis", quay.clone())]);
    assert!(errors(&c).contains("a vendor's image comes from a registry the workspace lists"), "{}", errors(&c));
    let listed = PLATFORM.replace("  services", "  vendor_registries = [\"quay.io/opstree\"]\n  services");
    let c = build_in(&listed, &[("redis", quay)]);
    assert!(c.output.is_some(), "{:#?}", c.diagnostics);
    // Without `image_source = vendor`, an image outside the workspace registry is refused.
    let undeclared = redis("").replace("  image_source = vendor\n", "").replace("  owner", "  language = go\n  owner");
    assert!(errors(&build(&[("redis", undeclared)])).contains("images come from the workspace registry"));
    // An init container's image: from a listed registry and pinned.
    let c = build(&[(
        "api",
        service(
            "api",
            "web-api",
            "  init { w { image = \"ghcr.io/other/tool:1@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\" } }",
        ),
    )]);
    assert!(errors(&c).contains("images come from the workspace registry"));
    let c = build(&[("api", service("api", "web-api", "  init { w { image = \"docker.io/library/busybox:1.36\" } }"))]);
    assert!(errors(&c).contains("images are pinned by digest"));
    // A registry prefix never matches a longer name.
    let c = build(&[(
        "api",
        service(
            "api",
            "web-api",
            "  init { w { image = \"docker.io/library-x/busybox:1@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\" } }",
        ),
    )]);
    assert!(errors(&c).contains("images come from the workspace registry"));
}
