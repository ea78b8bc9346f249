//! Stage 5, graph: the dependency graph of the whole workspace.
//!
//! Nodes are services and resources (added in name order); an edge runs from
//! a service to what it `depends_on`, to every resource it owns and to every
//! resource another service granted it that it uses (`orders.events.url`):
//! the owner comes first in the order, and a change to the owner reaches
//! the user. A cycle
//! among services is one error that names every step of the cycle, with the
//! `depends_on` entry that makes each step. The topological order (a service
//! after everything it depends on) breaks ties by name, so it is the same on
//! every machine.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diag::Diagnostic;
use crate::model::Model;
use crate::span::Span;

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    Service(String),
    /// A resource: owning service, resource name.
    Resource(String, String),
}

#[derive(Debug, Default)]
pub struct Graph {
    pub graph: DiGraph<Node, Span>,
    pub index: BTreeMap<Node, NodeIndex>,
    /// Services, each after the services it depends on.
    pub order: Vec<String>,
    /// The services of each namespace in each environment (environment →
    /// namespace → names, sorted): what the Namespace object a service
    /// emits is made of, built once, not by a scan of every service for
    /// each (quadratic at 10,000 services).
    namespaces: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Graph {
    /// Services `name` depends on, sorted.
    pub fn service_dependencies(&self, name: &str) -> Vec<&str> {
        crate::memo::note(|| crate::memo::Lookup::Dependencies(name.to_string()));
        self.neighbors(name, Direction::Outgoing)
    }

    /// Services that depend on `name`, sorted.
    pub fn dependents(&self, name: &str) -> Vec<&str> {
        crate::memo::note(|| crate::memo::Lookup::Dependents(name.to_string()));
        self.neighbors(name, Direction::Incoming)
    }

    /// The services in namespace `ns` in environment `env`, sorted; recorded
    /// as a lookup (a service joining or leaving the namespace changes what
    /// every member's Namespace object says).
    pub fn namespace_members(&self, env: &str, ns: &str) -> &[String] {
        crate::memo::note(|| crate::memo::Lookup::Namespace(env.to_string(), ns.to_string()));
        self.namespaces.get(env).and_then(|n| n.get(ns)).map_or(&[], Vec::as_slice)
    }

    /// Services whose resources `name` uses (granted to it), sorted.
    pub fn resource_owners(&self, name: &str) -> Vec<&str> {
        let Some(&ix) = self.index.get(&Node::Service(name.to_string())) else {
            return Vec::new();
        };
        let mut out: Vec<&str> = self
            .graph
            .neighbors_directed(ix, Direction::Outgoing)
            .filter_map(|n| match self.graph.node_weight(n) {
                Some(Node::Resource(owner, _)) if owner != name => Some(owner.as_str()),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Services that use a resource `name` owns, sorted.
    pub fn resource_users(&self, name: &str) -> Vec<&str> {
        // The owner's resources are one run of the index (ordered by owner).
        let mut out: Vec<&str> = self
            .index
            .range(Node::Resource(name.to_string(), String::new())..)
            .take_while(|(n, _)| matches!(n, Node::Resource(owner, _) if owner == name))
            .flat_map(|(_, &ix)| self.graph.neighbors_directed(ix, Direction::Incoming))
            .filter_map(|n| match self.graph.node_weight(n) {
                Some(Node::Service(s)) if s != name => Some(s.as_str()),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn neighbors(&self, name: &str, dir: Direction) -> Vec<&str> {
        let Some(&ix) = self.index.get(&Node::Service(name.to_string())) else {
            return Vec::new();
        };
        let mut out: Vec<&str> = self
            .graph
            .neighbors_directed(ix, dir)
            .filter_map(|n| match self.graph.node_weight(n) {
                Some(Node::Service(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every service whose output may change when `changed` changes: itself
    /// and everything that depends on it, transitively.
    pub fn affected(&self, changed: &BTreeSet<String>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<String> = changed.iter().cloned().collect();
        while let Some(s) = stack.pop() {
            if out.insert(s.clone()) {
                stack.extend(self.dependents(&s).into_iter().map(str::to_string));
                stack.extend(self.resource_users(&s).into_iter().map(str::to_string));
            }
        }
        out
    }
}

/// Builds the graph; reports cycles.
pub(crate) fn build(model: &Model, diags: &mut Vec<Diagnostic>) -> Graph {
    let mut g = Graph::default();
    // Nodes in name order, so indices (and everything derived) are stable.
    let mut nodes: Vec<Node> = Vec::new();
    for s in &model.services {
        nodes.push(Node::Service(s.name.clone()));
        if let Some(i) = s.instances.first() {
            nodes.extend(i.resources.iter().map(|r| Node::Resource(s.name.clone(), r.name.clone())));
        }
    }
    nodes.sort();
    for s in &model.services {
        for i in s.instances.iter() {
            let ns = crate::scope::namespace(&s.name, Some(i));
            g.namespaces.entry(i.env.clone()).or_default().entry(ns).or_default().push(s.name.clone());
        }
    }
    for n in nodes {
        let ix = g.graph.add_node(n.clone());
        g.index.insert(n, ix);
    }
    for s in &model.services {
        let Some(&from) = g.index.get(&Node::Service(s.name.clone())) else {
            continue;
        };
        if let Some(i) = s.instances.first() {
            for r in &i.resources {
                if let Some(&to) = g.index.get(&Node::Resource(s.name.clone(), r.name.clone())) {
                    g.graph.add_edge(from, to, r.span);
                }
            }
        }
        if let Some(i) = s.instances.first() {
            for r in i.outside_refs() {
                if let [owner, resource, _] = r.path.as_slice()
                    && owner != &s.name
                    && let Some(&to) = g.index.get(&Node::Resource(owner.clone(), resource.clone()))
                {
                    g.graph.add_edge(from, to, r.span);
                }
            }
        }
        for (dep, span) in &s.depends_on {
            if dep == &s.name {
                continue; // reported by check as a self-dependency
            }
            if let Some(&to) = g.index.get(&Node::Service(dep.clone())) {
                g.graph.add_edge(from, to, *span);
            }
        }
    }
    report_cycles(&g, diags);
    g.order = topological(&g);
    g
}

fn report_cycles(g: &Graph, diags: &mut Vec<Diagnostic>) {
    let mut sccs = petgraph::algo::tarjan_scc(&g.graph);
    for scc in &mut sccs {
        scc.sort_by(|a, b| g.graph.node_weight(*a).cmp(&g.graph.node_weight(*b)));
    }
    sccs.sort_by(|a, b| {
        a.first().and_then(|n| g.graph.node_weight(*n)).cmp(&b.first().and_then(|n| g.graph.node_weight(*n)))
    });
    for scc in sccs.iter().filter(|c| c.len() > 1) {
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let Some(&start) = scc.first() else { continue };
        // Walk the cycle from the first service by name, each step taking the
        // smallest neighbour still inside the component.
        let mut path = vec![start];
        let mut edges = Vec::new();
        let mut cur = start;
        loop {
            let mut next: Vec<(NodeIndex, Span)> = g
                .graph
                .edges_directed(cur, Direction::Outgoing)
                .filter(|e| members.contains(&petgraph::visit::EdgeRef::target(e)))
                .map(|e| (petgraph::visit::EdgeRef::target(&e), *e.weight()))
                .collect();
            next.sort_by(|a, b| {
                let back_a = a.0 == start;
                let back_b = b.0 == start;
                back_b.cmp(&back_a).then_with(|| g.graph.node_weight(a.0).cmp(&g.graph.node_weight(b.0)))
            });
            let Some(&(to, span)) = next.iter().find(|(n, _)| *n == start || !path.contains(n)) else {
                break;
            };
            edges.push(span);
            if to == start || path.len() > members.len() {
                break;
            }
            path.push(to);
            cur = to;
        }
        let names: Vec<String> = path
            .iter()
            .filter_map(|n| match g.graph.node_weight(*n) {
                Some(Node::Service(s)) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let mut shown = names.clone();
        if let Some(first) = names.first() {
            shown.push(first.clone());
        }
        let mut d = Diagnostic::error("platc::graph::cycle", format!("dependency cycle: {}", shown.join(" → ")));
        for (i, span) in edges.iter().enumerate() {
            let from = names.get(i).cloned().unwrap_or_default();
            let to = names.get(i + 1).or(names.first()).cloned().unwrap_or_default();
            d = if i == 0 {
                d.label(*span, format!("`{from}` depends on `{to}`"))
            } else {
                d.also(*span, format!("`{from}` depends on `{to}`"))
            };
        }
        diags.push(
            d.help("a service cannot depend on itself through others; remove one `depends_on` entry of the cycle"),
        );
    }
}

/// Kahn's algorithm over services, dependencies first, ties by name.
fn topological(g: &Graph) -> Vec<String> {
    let services: Vec<(&str, NodeIndex)> = g
        .index
        .iter()
        .filter_map(|(n, ix)| match n {
            Node::Service(s) => Some((s.as_str(), *ix)),
            _ => None,
        })
        .collect();
    let before = |name: &str| {
        let mut b = g.service_dependencies(name);
        b.extend(g.resource_owners(name));
        b.sort_unstable();
        b.dedup();
        b
    };
    let mut remaining: BTreeMap<&str, usize> = services.iter().map(|(name, _)| (*name, before(name).len())).collect();
    let mut ready: BTreeSet<&str> = remaining.iter().filter(|(_, n)| **n == 0).map(|(s, _)| *s).collect();
    let mut order = Vec::new();
    while let Some(s) = ready.pop_first() {
        remaining.remove(s);
        order.push(s.to_string());
        let mut after = g.dependents(s);
        after.extend(g.resource_users(s));
        after.sort_unstable();
        after.dedup();
        for d in after {
            if let Some(n) = remaining.get_mut(d) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    ready.insert(d);
                }
            }
        }
    }
    // Services on a cycle (already reported) go last, by name.
    order.extend(remaining.keys().map(|s| s.to_string()));
    order
}
