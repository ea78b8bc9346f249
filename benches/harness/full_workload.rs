//! `gen full N DIR`: a deterministic synthetic monorepo of N services in the
//! plat language, shaped like `examples/monorepo` but generated.
//!
//! - `platform.plat`: the workspace, a registry, two environments (staging,
//!   production).
//! - `services/<name>/service.plat`, one per service. Service `i`:
//!   - golden path by `i % 10`: 0-5 `web-api`, 6-8 `worker`, 9 `cron-job`
//!     (with a `schedule` and `args`);
//!   - tier by `i % 6` (web-api and worker only; cron jobs stay bronze):
//!     0 gold, 1-2 silver, 3-5 bronze;
//!   - `depends_on` only services with a smaller index, and only web-apis
//!     (nobody calls a worker or a cron job): `i % 4` of them (0-3), picked by
//!     a seeded generator, so the graph is a DAG with a long tail of callers
//!     for the low indices;
//!   - a postgres resource (`<name>-db`, its `url` in `DATABASE_URL`) when
//!     `i.is_multiple_of(3)`, a redis `cache` in `depends_on` when `i.is_multiple_of(5)`;
//!   - `env` with a plain `LOG_LEVEL` (the line the harness edits), numbers
//!     and booleans, a `secret(...)` every fourth service, a dependency's
//!     `url` where there is one;
//!   - `environment staging` / `environment production` blocks (replicas,
//!     a larger autoscale ceiling in production every third web-api);
//!   - a version and a `sha256:` digest (the standard library's policies
//!     require both), varied cpu and memory;
//!   - every 20th web-api is exposed through an ingress, every 25th has an
//!     OpenAPI definition, every 50th patches its Deployment, and every 40th
//!     runs one replica in staging under an explicit waiver.
//!
//! Same N, same bytes: no clock, no randomness beyond a fixed seed.

use std::fmt::Write as _;
use std::path::Path;

use crate::write_file;

/// The teams, each owning one system.
const DOMAINS: &[&str] = &[
    "accounts",
    "billing",
    "catalog",
    "checkout",
    "fulfilment",
    "identity",
    "inventory",
    "search",
    "shipping",
    "support",
    "pricing",
    "reviews",
];

const LANGUAGES: &[&str] = &["go", "java", "python", "rust", "typescript"];

/// The name of service `i`.
pub fn name(i: usize) -> String {
    format!("{}-{i:05}", DOMAINS[i % DOMAINS.len()])
}

/// The file of service `i`, relative to the workspace.
pub fn service_file(i: usize) -> String {
    format!("services/{}/service.plat", name(i))
}

#[derive(Clone, Copy, PartialEq)]
enum GoldenPath {
    WebApi,
    Worker,
    Cron,
}

fn golden_path(i: usize) -> GoldenPath {
    match i % 10 {
        0..=5 => GoldenPath::WebApi,
        6..=8 => GoldenPath::Worker,
        _ => GoldenPath::Cron,
    }
}

/// The service the harness edits for the "one-line edit" measurements: a
/// web-api near the middle, so it has callers and dependencies.
pub fn edited_service(n: usize) -> usize {
    let mut i = n / 2;
    while i > 0 && golden_path(i) != GoldenPath::WebApi {
        i -= 1;
    }
    i
}

/// splitmix64: a tiny, fixed, portable generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The services `i` depends on: web-apis with a smaller index, sorted.
fn dependencies(i: usize) -> Vec<usize> {
    let want = i % 4;
    let mut rng = Rng::new(0x5eed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut deps = Vec::new();
    // Half the picks among the 50 nearest lower indices (teams call their
    // neighbours), half anywhere below (shared platform services).
    for attempt in 0..want * 8 {
        if deps.len() == want || i == 0 {
            break;
        }
        let j = if attempt % 2 == 0 { i - 1 - rng.below(i.min(50)) } else { rng.below(i) };
        if golden_path(j) == GoldenPath::WebApi && !deps.contains(&j) {
            deps.push(j);
        }
    }
    deps.sort_unstable();
    deps
}

fn digest(i: usize) -> String {
    let mut rng = Rng::new(0xd1_6e57 ^ i as u64);
    let mut s = String::from("sha256:");
    for _ in 0..4 {
        let _ = write!(s, "{:016x}", rng.next());
    }
    s
}

/// The text of service `i`'s `service.plat`.
pub fn service(i: usize) -> String {
    let name = name(i);
    let domain = DOMAINS[i % DOMAINS.len()];
    let path = golden_path(i);
    let mut s = String::new();
    let _ = writeln!(s, "# Generated benchmark service {i}.");
    let from = match path {
        GoldenPath::WebApi => "web-api",
        GoldenPath::Worker => "worker",
        GoldenPath::Cron => "cron-job",
    };
    let _ = writeln!(s, "service {name} from {from} {{");
    let _ = writeln!(s, "  owner       = \"team-{domain}\"");
    let _ = writeln!(s, "  system      = \"{domain}\"");
    let _ = writeln!(s, "  description = \"Synthetic {from} number {i} of the {domain} system\"");
    if path != GoldenPath::Cron {
        let tier = match i % 6 {
            0 => "gold",
            1 | 2 => "silver",
            _ => "bronze",
        };
        let _ = writeln!(s, "  tier        = {tier}");
    }
    let _ = writeln!(s, "  language    = {}", LANGUAGES[i % LANGUAGES.len()]);
    let _ = writeln!(s, "  tags       += [\"{domain}\"]");
    let _ = writeln!(s, "  version     = \"{}.{}.{}\"", 1 + i % 5, i % 13, i % 7);
    let _ = writeln!(s, "  digest      = \"{}\"", digest(i));
    if path == GoldenPath::Cron {
        let _ = writeln!(s, "  schedule    = \"{} {} * * *\"", i % 60, i % 24);
        let _ = writeln!(s, "  args        = [\"--batch\", \"{}\"]", 100 + i % 900);
    }
    s.push('\n');
    let (cpu, memory) = match i % 4 {
        0 => ("100m", "128Mi"),
        1 => ("250m", "256Mi"),
        2 => ("500m", "512Mi"),
        _ => ("500m", "1Gi"),
    };
    let _ = writeln!(s, "  cpu    = {cpu}");
    let _ = writeln!(s, "  memory = {memory}");
    if memory == "1Gi" {
        let _ = writeln!(s, "  limits {{ memory = 2Gi }}");
    }
    s.push('\n');

    let deps = dependencies(i);
    let postgres = i.is_multiple_of(3);
    let redis = i.is_multiple_of(5);
    s.push_str("  env {\n");
    // The harness edits this line; keep it first and on its own.
    s.push_str("    LOG_LEVEL    = \"info\"\n");
    let _ = writeln!(s, "    WORKERS      = {}", 2 + i % 6);
    let _ = writeln!(s, "    TRACING      = {}", i.is_multiple_of(2));
    if postgres {
        let _ = writeln!(s, "    DATABASE_URL = {name}-db.url");
    }
    if i % 4 == 1 {
        let _ = writeln!(s, "    API_KEY      = secret(\"{name}/api-key\")");
    }
    if let Some(&first) = deps.first() {
        let _ = writeln!(s, "    UPSTREAM_API = {}.url", self::name(first));
    }
    s.push_str("  }\n");
    if postgres {
        let size = if i.is_multiple_of(9) { "medium" } else { "small" };
        let _ = writeln!(s, "\n  resource postgres {name}-db {{ size = {size} }}");
    }
    if redis {
        let _ = writeln!(s, "\n  resource redis cache {{ size = small }}");
    }
    let mut dep_names: Vec<String> = deps.iter().map(|&j| self::name(j)).collect();
    if redis {
        dep_names.push("cache".into());
    }
    if !dep_names.is_empty() {
        let _ = writeln!(s, "\n  depends_on = [{}]", dep_names.join(", "));
    }

    let waiver = path == GoldenPath::WebApi && i % 40 == 10;
    if path == GoldenPath::WebApi {
        if i.is_multiple_of(20) {
            let _ = writeln!(s, "\n  expose {{ host = \"{name}.bench.example\"  path = \"/\" }}");
        }
        if i.is_multiple_of(25) {
            let _ = writeln!(s, "\n  api {name}-api {{ type = openapi  definition = file(\"api/openapi.yaml\") }}");
        }
    }
    if path != GoldenPath::Cron {
        let staging = if waiver { 1 } else { 2 };
        let production = if i.is_multiple_of(6) { 4 } else { 3 };
        s.push('\n');
        let _ = writeln!(s, "  environment staging    {{ replicas = {staging} }}");
        if path == GoldenPath::WebApi && i.is_multiple_of(3) {
            let _ = writeln!(s, "  environment production {{");
            let _ = writeln!(s, "    replicas = {production}");
            let _ = writeln!(s, "    autoscale {{ max = 20 }}");
            let _ = writeln!(s, "  }}");
        } else {
            let _ = writeln!(s, "  environment production {{ replicas = {production} }}");
        }
    }
    if waiver {
        let _ = writeln!(s, "\n  allow min-replicas-staging because \"staging is a single-replica smoke environment\"");
    }
    if path == GoldenPath::WebApi && i % 50 == 20 {
        let _ = writeln!(s, "\n  patch kubernetes Deployment {{");
        let _ = writeln!(s, "    spec.template.spec.nodeSelector = {{ disktype = \"ssd\" }}");
        let _ = writeln!(s, "  }}");
    }
    s.push_str("}\n");
    s
}

/// The first line of the generated `platform.plat`.
pub const HEADER: &str = "# A generated benchmark monorepo (benches/harness.rs `gen full`).";

const PLATFORM: &str = r#"# A generated benchmark monorepo (benches/harness.rs `gen full`).
workspace bench {
  registry       = "ghcr.io/bench"
  repo           = "bench/platform"
  cloud          = aws { region = "eu-west-1" }
  services       = ["services/*"]
  dashboards_url = "https://grafana.bench.example"
  runbooks_url   = "https://runbooks.bench.example"

  environment staging    { cluster = "staging-eu-1" }
  environment production {
    cluster  = "prod-eu-1"
    approval = required
  }
}
"#;

fn openapi(name: &str) -> String {
    format!(
        "openapi: 3.0.3\ninfo:\n  title: {name}\n  version: 1.0.0\npaths:\n  /health:\n    get:\n      responses:\n        \"200\":\n          description: ok\n"
    )
}

/// Writes the workspace into `dir` (which must not exist or be empty).
pub fn generate(n: usize, dir: &Path) -> Result<(), String> {
    write_file(&dir.join("platform.plat"), PLATFORM)?;
    for i in 0..n {
        write_file(&dir.join(service_file(i)), &service(i))?;
        if golden_path(i) == GoldenPath::WebApi && i.is_multiple_of(25) {
            write_file(&dir.join("services").join(name(i)).join("api/openapi.yaml"), &openapi(&name(i)))?;
        }
    }
    Ok(())
}
