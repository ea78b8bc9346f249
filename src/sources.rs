//! The compiler's input: an in-memory map of workspace files, and the
//! standard library embedded in the binary.
//!
//! The CLI (or a test, or `platc diff` reading a git tree) fills a
//! [`Sources`] with every `.plat` and `.hbs` file of the workspace, keyed by
//! `/`-separated paths relative to the workspace root. Files that a
//! compilation asks for by name (`file("api/openapi.yaml")`) come through the
//! optional loader, so that the library itself never touches the disk.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::memo::{Fingerprint, Reads};

/// The text of a file, or where it stops being UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Text {
    Utf8(Arc<str>),
    Invalid { valid_up_to: usize },
}

impl Text {
    pub fn from_bytes(bytes: Vec<u8>) -> Text {
        match String::from_utf8(bytes) {
            Ok(s) => Text::Utf8(Arc::from(s)),
            Err(e) => Text::Invalid { valid_up_to: e.utf8_error().valid_up_to() },
        }
    }
}

/// Reads a file the compilation refers to by path (`file(...)`); `Err`
/// carries a reason in words. The path is workspace-relative and already
/// checked to stay inside the workspace.
pub type Loader = dyn Fn(&str) -> Result<Vec<u8>, String> + Send + Sync;

/// Everything a compilation reads. A clone shares the texts.
#[derive(Clone, Default)]
pub struct Sources {
    /// Shared: a tracked view ([`Sources::tracked`]) is a cheap clone.
    files: Arc<BTreeMap<String, Text>>,
    /// Files the reader found and did not read, with why (each becomes a
    /// `platc::workspace::unreadable` diagnostic).
    skipped: BTreeMap<String, Skipped>,
    loader: Option<Arc<Loader>>,
    /// The names of the workspace's directory and its parents, innermost
    /// first: where the workspace sits in its repository
    /// (`repository_root` in platform.plat, for workflows' paths).
    dirs: Arc<[String]>,
    /// The standard library this compilation overlays: `None` is the one
    /// embedded in the binary ([`STDLIB`]). Tests compile against another
    /// (an upgrade of the embedded library, say) with [`Sources::set_stdlib`].
    stdlib: Option<Arc<BTreeMap<String, Arc<str>>>>,
    /// Of a tracked view: every file loaded by name, with what it gave.
    tracker: Option<Arc<Mutex<Reads>>>,
}

/// What a tracked view of the sources loaded (see [`Sources::tracked`]).
pub struct Tracker(Arc<Mutex<Reads>>);

impl Tracker {
    /// The files loaded so far, in order, each with the fingerprint of what
    /// the load gave.
    pub fn take(&self) -> Reads {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A file or directory the reader did not read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Why, in words ("it is a symbolic link to outside the workspace").
    pub reason: String,
    /// Whether the build fails: a source file not read does; a directory
    /// that might hold some is a warning.
    pub error: bool,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Adds a workspace file; `path` is relative to the workspace root.
    pub fn insert(&mut self, path: impl Into<String>, text: impl Into<String>) {
        let path = path.into();
        self.skipped.remove(&path);
        Arc::make_mut(&mut self.files).insert(path, Text::Utf8(Arc::from(text.into())));
    }

    /// Records a file (or directory) found and not read, and why.
    pub fn skip(&mut self, path: impl Into<String>, reason: impl Into<String>, error: bool) {
        self.skipped.insert(path.into(), Skipped { reason: reason.into(), error });
    }

    pub fn skipped(&self) -> impl Iterator<Item = (&str, &Skipped)> {
        self.skipped.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Adds a workspace file as bytes read from disk (checked for UTF-8 here,
    /// reported by the compiler).
    pub fn insert_bytes(&mut self, path: impl Into<String>, bytes: Vec<u8>) {
        let path = path.into();
        self.skipped.remove(&path);
        Arc::make_mut(&mut self.files).insert(path, Text::from_bytes(bytes));
    }

    pub fn with_loader(mut self, loader: Box<Loader>) -> Sources {
        self.loader = Some(Arc::from(loader));
        self
    }

    pub fn set_loader(&mut self, loader: Box<Loader>) {
        self.loader = Some(Arc::from(loader));
    }

    /// Where the workspace is: the names of its directory and its parents,
    /// innermost first (the caller knows the file system; the compiler
    /// never looks).
    pub fn set_workspace_dirs(&mut self, dirs: Vec<String>) {
        self.dirs = Arc::from(dirs);
    }

    pub fn workspace_dirs(&self) -> &[String] {
        &self.dirs
    }

    /// Compiles against `files` (paths relative to the library's root, as in
    /// [`STDLIB`]) instead of the embedded standard library: what an upgrade
    /// of platc would ship, for tests that an overlay keeps receiving it.
    pub fn set_stdlib(&mut self, files: BTreeMap<String, Arc<str>>) {
        self.stdlib = Some(Arc::new(files));
    }

    /// The standard library this compilation overlays: [`embedded_stdlib`]
    /// unless [`Sources::set_stdlib`] gave another.
    pub fn stdlib(&self) -> BTreeMap<String, Arc<str>> {
        match &self.stdlib {
            Some(files) => BTreeMap::clone(files),
            None => embedded_stdlib(),
        }
    }

    /// Forgets a workspace file (it was deleted).
    pub fn remove(&mut self, path: &str) {
        Arc::make_mut(&mut self.files).remove(path);
        self.skipped.remove(path);
    }

    pub fn get(&self, path: &str) -> Option<&Text> {
        self.files.get(path)
    }

    pub fn files(&self) -> impl Iterator<Item = (&str, &Text)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A file named by the compilation: from the map, else from the loader.
    /// A tracked view records it.
    pub fn load(&self, path: &str) -> Result<Text, String> {
        let got = match (self.files.get(path), &self.loader) {
            (Some(t), _) => Ok(t.clone()),
            (None, Some(load)) => load(path).map(Text::from_bytes),
            (None, None) => Err("no such file in the workspace".into()),
        };
        if let Some(t) = &self.tracker {
            t.lock().unwrap_or_else(|e| e.into_inner()).push((path.to_string(), Fingerprint::of_load(&got)));
        }
        got
    }

    /// The same sources, through a view that records every file loaded by
    /// name (what a memoized query read besides its key: see
    /// [`crate::memo`]).
    pub fn tracked(&self) -> (Sources, Tracker) {
        let reads = Arc::new(Mutex::new(Vec::new()));
        let view = Sources { tracker: Some(Arc::clone(&reads)), ..self.clone() };
        (view, Tracker(reads))
    }
}

/// The embedded standard library as data: relative path → text (a copy a
/// test may change and give to [`Sources::set_stdlib`]).
pub fn embedded_stdlib() -> BTreeMap<String, Arc<str>> {
    STDLIB.iter().map(|(p, t)| (p.to_string(), Arc::from(*t))).collect()
}

/// The prefix under which embedded standard-library files are shown.
pub const STDLIB_PREFIX: &str = "<stdlib>/";

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        /// Every file of `stdlib/`, compiled into the binary. A test checks
        /// that this list matches the directory.
        pub const STDLIB: &[(&str, &str)] = &[$(($path, include_str!(concat!("../stdlib/", $path)))),*];
    };
}

embed!(
    "defaults.plat",
    "golden-paths/cron-job.plat",
    "golden-paths/grpc-api.plat",
    "golden-paths/web-api.plat",
    "golden-paths/worker.plat",
    "languages.plat",
    "policies/images.plat",
    "policies/replicas.plat",
    "policies/resources.plat",
    "policies/security.plat",
    "resources/bucket.plat",
    "resources/cache.plat",
    "resources/postgres.plat",
    "resources/queue.plat",
    "resources/redis.plat",
    "schema.plat",
    "targets.plat",
    "templates/alerts/_alerts_burn.hbs",
    "templates/alerts/_alerts_groups.hbs",
    "templates/alerts/rules.yaml.hbs",
    "templates/catalog/catalog-info.yaml.hbs",
    "templates/catalog/workspace/catalog-info.yaml.hbs",
    "templates/dashboards/dashboard.json.hbs",
    "templates/kubernetes/_checkov_skips.hbs",
    "templates/kubernetes/_container.hbs",
    "templates/kubernetes/_labels.hbs",
    "templates/kubernetes/_metadata.hbs",
    "templates/kubernetes/_pod.hbs",
    "templates/kubernetes/_probes.hbs",
    "templates/kubernetes/_resource_labels.hbs",
    "templates/kubernetes/_volumes.hbs",
    "templates/kubernetes/configmap.yaml.hbs",
    "templates/kubernetes/cronjob.yaml.hbs",
    "templates/kubernetes/deployment.yaml.hbs",
    "templates/kubernetes/externalsecret.yaml.hbs",
    "templates/kubernetes/horizontalpodautoscaler.yaml.hbs",
    "templates/kubernetes/ingress.yaml.hbs",
    "templates/kubernetes/namespace.yaml.hbs",
    "templates/kubernetes/networkpolicy.yaml.hbs",
    "templates/kubernetes/poddisruptionbudget.yaml.hbs",
    "templates/kubernetes/prometheusrule.yaml.hbs",
    "templates/kubernetes/resources/cache.yaml.hbs",
    "templates/kubernetes/service-public.yaml.hbs",
    "templates/kubernetes/service.yaml.hbs",
    "templates/kubernetes/serviceaccount.yaml.hbs",
    "templates/kubernetes/servicemonitor.yaml.hbs",
    "templates/terraform/bucket.tf.hbs",
    "templates/terraform/grants/bucket.tf.hbs",
    "templates/terraform/grants/queue.tf.hbs",
    "templates/terraform/main.tf.hbs",
    "templates/terraform/postgres.tf.hbs",
    "templates/terraform/queue.tf.hbs",
    "templates/terraform/redis.tf.hbs",
    "templates/workflows/_ci_paths.hbs",
    "templates/workflows/ci.yml.hbs",
    "templates/workflows/deploy.yml.hbs",
    "templates/workflows/workspace/platc-deploy.yml.hbs",
    "templates/workflows/workspace/platc-image.yml.hbs",
    "tiers.plat",
    "workspace.plat",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_list_matches_the_stdlib_directory() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
                    on_disk.push(rel);
                }
            }
        }
        on_disk.sort();
        let embedded: Vec<String> = STDLIB.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(embedded, on_disk, "update the embed! list in src/sources.rs");
    }
}
