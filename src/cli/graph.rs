//! `platc graph`: the dependency graph as DOT or mermaid, or, with
//! `--affected-by FILE...`, the services whose output a change to those files
//! can alter (for CI to build and deploy only those).

use std::path::{Path, PathBuf};

use platc::Options;
use platc::diag::render::Format;
use platc::graph::{Graph, Node};
use platc::model::Model;

use super::{EXIT_DIAGNOSTICS, GraphFormat, compile, report};

pub fn run(path: Option<PathBuf>, how: GraphFormat, affected_by: &[PathBuf], format: Format) -> Result<u8, String> {
    let loaded = compile(path, None, &Options::default())?;
    let c = &loaded.compiled;
    let (Some(model), Some(graph)) = (&c.model, &c.graph) else {
        report(c, format);
        return Ok(EXIT_DIAGNOSTICS);
    };
    if c.diagnostics.iter().any(|d| d.code == "platc::graph::cycle") || model.services.is_empty() {
        report(c, format);
        return Ok(EXIT_DIAGNOSTICS);
    }
    if !affected_by.is_empty() {
        let mut rel = Vec::new();
        for f in affected_by {
            rel.push(relative(&loaded.root, f)?);
        }
        let services = c.affected_by(&rel).unwrap_or_else(|| model.services.iter().map(|s| s.name.clone()).collect());
        for s in services {
            println!("{s}");
        }
        return Ok(0);
    }
    print!("{}", if how == GraphFormat::Dot { dot(model, graph) } else { mermaid(model, graph) });
    Ok(0)
}

/// A file named on the command line, relative to the workspace root.
fn relative(root: &Path, f: &Path) -> Result<String, String> {
    let abs = std::env::current_dir().map_err(|e| e.to_string())?.join(f);
    let abs = normalize(&abs);
    let rel = abs.strip_prefix(root).map_err(|_| format!("`{}` is outside the workspace", super::display(f)))?;
    Ok(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn resource_id(service: &str, resource: &str) -> String {
    format!("{service}__{resource}").replace('-', "_")
}

fn dot(model: &Model, graph: &Graph) -> String {
    let mut s = format!("digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", model.workspace.name);
    for n in graph.index.keys() {
        match n {
            Node::Service(name) => s.push_str(&format!("  \"{name}\";\n")),
            Node::Resource(svc, r) => {
                let ty = model
                    .service(svc)
                    .and_then(|x| x.instances.first())
                    .and_then(|i| i.resources.iter().find(|x| &x.name == r))
                    .map(|x| x.ty.clone())
                    .unwrap_or_default();
                s.push_str(&format!("  \"{svc}/{r}\" [shape=cylinder, label=\"{r}\\n({ty})\"];\n"));
            }
        }
    }
    for e in graph.graph.edge_indices() {
        let Some((a, b)) = graph.graph.edge_endpoints(e) else { continue };
        let (Some(a), Some(b)) = (graph.graph.node_weight(a), graph.graph.node_weight(b)) else { continue };
        s.push_str(&format!("  \"{}\" -> \"{}\";\n", label(a), label(b)));
    }
    s.push_str("}\n");
    s
}

fn label(n: &Node) -> String {
    match n {
        Node::Service(s) => s.clone(),
        Node::Resource(s, r) => format!("{s}/{r}"),
    }
}

fn mermaid(_model: &Model, graph: &Graph) -> String {
    let id = |n: &Node| match n {
        Node::Service(s) => s.replace('-', "_"),
        Node::Resource(s, r) => resource_id(s, r),
    };
    let mut s = String::from("flowchart LR\n");
    for n in graph.index.keys() {
        match n {
            Node::Service(name) => s.push_str(&format!("  {}[\"{name}\"]\n", id(n))),
            Node::Resource(_, r) => s.push_str(&format!("  {}[(\"{r}\")]\n", id(n))),
        }
    }
    let mut edges: Vec<String> = graph
        .graph
        .edge_indices()
        .filter_map(|e| graph.graph.edge_endpoints(e))
        .filter_map(|(a, b)| {
            Some(format!("  {} --> {}\n", id(graph.graph.node_weight(a)?), id(graph.graph.node_weight(b)?)))
        })
        .collect();
    edges.sort();
    s.extend(edges);
    s
}
