//! `gen peer N DIR`: the workload of `../shared/bench/peers/gen.py` written
//! in plat, so that `platc build --target kubernetes` renders exactly the
//! 3*N objects of its `reference(N)` (a Deployment, a Service and an HPA per
//! service), which `check.py` proves before anything is timed.
//!
//! As with every peer, the platform owns the defaults and the objects; a
//! service file holds its identity and its few overrides:
//!
//! - `platform.plat`: one environment, the registry, and
//!   `stdlib = "./platform"`, an overlay of the embedded standard library:
//!   - `defaults.plat`: gen.py's `DEFAULTS` (replicas 2, cpu 100m/500m,
//!     memory 128Mi/512Mi, port 8080, `LOG_LEVEL=info`, probes, HPA 10 at
//!     75%);
//!   - `policies/images.plat` without `image-pinned` (the workload has no
//!     digests);
//!   - `templates/kubernetes/`: the three objects, plus an empty template
//!     (whitespace only: no file) in place of every other embedded one, so
//!     that nothing else is generated.
//! - `services/svc-NNNNN/service.plat`: gen.py's `service(i)`: port 9090 if
//!   `i.is_multiple_of(3)`; memory 256Mi/1Gi if `i.is_multiple_of(4)`; replicas 3 and HPA
//!   max 20 if `i.is_multiple_of(5)`; `FEATURE_FLAGS=beta` if `i.is_multiple_of(2)`.

use std::fmt::Write as _;
use std::path::Path;

use crate::write_file;

/// Templates of the overlay that render objects; every other template of the
/// embedded `templates/kubernetes/` is replaced by [`EMPTY`].
const TEMPLATES: &[(&str, &str)] = &[
    ("templates/kubernetes/_peer_labels.hbs", PEER_LABELS),
    ("templates/kubernetes/_peer_metadata.hbs", PEER_METADATA),
    ("templates/kubernetes/deployment.yaml.hbs", DEPLOYMENT),
    ("templates/kubernetes/service.yaml.hbs", SERVICE),
    ("templates/kubernetes/horizontalpodautoscaler.yaml.hbs", HPA),
];

const EMPTY: &str = "{{!-- Not part of the peer benchmark's workload: renders nothing, so no file. --}}\n";

const PEER_LABELS: &str = r#"{{!-- The labels of every object of the peer workload. --}}
labels:
  app.kubernetes.io/name: {{service.name}}
  app.kubernetes.io/part-of: {{service.owner}}
  app.kubernetes.io/managed-by: platform
"#;

const PEER_METADATA: &str = r#"{{!-- Name, namespace (the team) and labels. --}}
metadata:
  name: {{service.name}}
  namespace: {{service.owner}}
{{include "kubernetes/_peer_labels.hbs" indent=2}}
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
{{include "kubernetes/_peer_metadata.hbs"}}
spec:
  replicas: {{json service.replicas}}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{service.name}}
  template:
    metadata:
{{include "kubernetes/_peer_labels.hbs" indent=6}}
    spec:
      containers:
        - name: app
          image: {{image}}
          ports:
            - name: http
              containerPort: {{json service.port}}
          env:
{{#each service.env}}
            - name: {{@key}}
              value: {{this}}
{{/each}}
          resources:
            requests:
              cpu: {{service.cpu}}
              memory: {{service.memory}}
            limits:
              cpu: {{service.limits.cpu}}
              memory: {{service.limits.memory}}
          livenessProbe:
            httpGet:
              path: {{service.health.liveness}}
              port: http
            initialDelaySeconds: {{json (seconds service.health.initial_delay)}}
            periodSeconds: {{json (seconds service.health.period)}}
          readinessProbe:
            httpGet:
              path: {{service.health.readiness}}
              port: http
            periodSeconds: 5
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
{{include "kubernetes/_peer_metadata.hbs"}}
spec:
  selector:
    app.kubernetes.io/name: {{service.name}}
  ports:
    - name: http
      port: 80
      targetPort: http
"#;

const HPA: &str = r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
{{include "kubernetes/_peer_metadata.hbs"}}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{service.name}}
  minReplicas: {{json service.replicas}}
  maxReplicas: {{json service.autoscale.max}}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{json service.autoscale.cpu_target}}
"#;

/// The first line of the generated `platform.plat`.
pub const HEADER: &str = "# The peer benchmark's workload (../shared/bench/peers/gen.py) in plat.";

const PLATFORM: &str = r#"# The peer benchmark's workload (../shared/bench/peers/gen.py) in plat.
workspace peers {
  registry = "registry.example.com"
  stdlib   = "./platform"
  services = ["services/*"]

  environment production {}
}
"#;

/// gen.py's `DEFAULTS`, as the platform's defaults.
const DEFAULTS: &str = r#"# gen.py's DEFAULTS: where every service of the peer workload starts.
defaults {
  workload = service
  image    = "${workspace.registry}/${service.name}"
  version  = "latest"
  port     = 8080
  replicas = 2
  cpu      = 100m
  memory   = 128Mi
  limits {
    cpu    = 500m
    memory = 512Mi
  }
  env { LOG_LEVEL = "info" }

  health {
    liveness      = "/healthz"
    readiness     = "/ready"
    initial_delay = 10s
    period        = 10s
  }
  autoscale {
    enabled    = true
    max        = 10
    cpu_target = 75%
  }
}
"#;

/// The embedded image policies without `image-pinned`: the peer workload has
/// no digests.
const IMAGES: &str = r#"policy image-from-registry {
  when     = workspace.registry != null
  require  = starts_with(image, "${workspace.registry}/")
  severity = error
  message  = "images come from the workspace registry"
}

policy image-no-latest {
  require  = version != "latest" and not ends_with(image, ":latest")
  severity = error
  message  = "the `latest` tag is not a version"
}
"#;

/// gen.py's `service(i)` as a service.plat.
pub fn service(i: usize) -> String {
    let team = format!("team-{}", i % 10);
    let name = format!("svc-{i:05}");
    let mut s = format!("service {name} {{\n");
    let _ = writeln!(s, "  owner   = \"{team}\"");
    let _ = writeln!(s, "  image   = \"registry.example.com/{team}/{name}\"");
    let _ = writeln!(s, "  version = \"1.{}.0\"", i % 7);
    if i.is_multiple_of(3) {
        s.push_str("  port    = 9090\n");
    }
    if i.is_multiple_of(4) {
        s.push_str("  memory  = 256Mi\n  limits { memory = 1Gi }\n");
    }
    if i.is_multiple_of(5) {
        s.push_str("  replicas = 3\n  autoscale { max = 20 }\n");
    }
    if i.is_multiple_of(2) {
        s.push_str("  env { FEATURE_FLAGS = \"beta\" }\n");
    }
    s.push_str("}\n");
    s
}

/// Writes the workspace into `dir`. `embedded_kubernetes` lists the file
/// names of the embedded `stdlib/templates/kubernetes/`, each of which the
/// overlay replaces.
pub fn generate(n: usize, dir: &Path, embedded_kubernetes: &[String]) -> Result<(), String> {
    write_file(&dir.join("platform.plat"), PLATFORM)?;
    let lib = dir.join("platform");
    write_file(&lib.join("defaults.plat"), DEFAULTS)?;
    write_file(&lib.join("policies/images.plat"), IMAGES)?;
    for (path, text) in TEMPLATES {
        write_file(&lib.join(path), text)?;
    }
    for file in embedded_kubernetes {
        let path = format!("templates/kubernetes/{file}");
        if !TEMPLATES.iter().any(|(p, _)| *p == path) {
            write_file(&lib.join(path), EMPTY)?;
        }
    }
    for i in 0..n {
        write_file(&dir.join(format!("services/svc-{i:05}/service.plat")), &service(i))?;
    }
    Ok(())
}
