//! The service dependency graph (petgraph): start order, dependents and
//! cycle detection.

use crate::model::Project;
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use petgraph::Direction;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Edges from each service to the services it depends on (unknown names ignored).
fn graph(deps: &BTreeMap<String, BTreeSet<String>>) -> DiGraphMap<&str, ()> {
    let mut g = DiGraphMap::new();
    for name in deps.keys() {
        g.add_node(name.as_str());
    }
    for (name, ds) in deps {
        for d in ds {
            if deps.contains_key(d) {
                g.add_edge(name.as_str(), d.as_str(), ());
            }
        }
    }
    g
}

/// A dependency cycle as `[a, b, …, a]` (`a` depends on `b` …), starting at
/// the alphabetically first service on any cycle; `None` when there is none.
pub fn find_cycle(deps: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let g = graph(deps);
    let start = tarjan_scc(&g)
        .into_iter()
        .filter(|scc| scc.len() > 1 || g.contains_edge(scc[0], scc[0]))
        .filter_map(|scc| scc.into_iter().min())
        .min()?;
    // Shortest way back to `start`, alphabetical among equals.
    let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        let mut next: Vec<&str> = g.neighbors_directed(n, Direction::Outgoing).collect();
        next.sort_unstable();
        for m in next {
            if m == start {
                let mut back = Vec::new();
                let mut cur = n;
                while cur != start {
                    back.push(cur.to_string());
                    cur = prev[cur];
                }
                back.reverse();
                let mut path = vec![start.to_string()];
                path.extend(back);
                path.push(start.to_string());
                return Some(path);
            }
            if !prev.contains_key(m) {
                prev.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    None
}

fn deps_of(project: &Project) -> BTreeMap<String, BTreeSet<String>> {
    project
        .services
        .iter()
        .map(|(n, s)| (n.clone(), s.depends_on.keys().cloned().collect()))
        .collect()
}

/// Service names with dependencies first, from a map of each service to
/// the services it depends on (unknown names ignored); alphabetical among
/// services that are ready at the same time. Services on a cycle come
/// last, alphabetically.
pub fn start_order(deps: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let g = graph(deps);
    let mut waiting: BTreeMap<&str, usize> = deps
        .keys()
        .map(|n| {
            (
                n.as_str(),
                g.neighbors_directed(n, Direction::Outgoing).count(),
            )
        })
        .collect();
    let mut ready: BTreeSet<&str> = waiting
        .iter()
        .filter(|(_, c)| **c == 0)
        .map(|(n, _)| *n)
        .collect();
    let mut order = Vec::new();
    while let Some(n) = ready.pop_first() {
        waiting.remove(n);
        order.push(n.to_string());
        for dependent in g.neighbors_directed(n, Direction::Incoming) {
            if let Some(c) = waiting.get_mut(dependent) {
                *c -= 1;
                if *c == 0 {
                    ready.insert(dependent);
                }
            }
        }
    }
    order.extend(waiting.keys().map(|n| n.to_string()));
    order
}

impl Project {
    /// [`start_order`] of the project's services.
    pub fn start_order(&self) -> Vec<String> {
        start_order(&deps_of(self))
    }

    /// Every service that depends on `service`, directly or through others,
    /// in start order.
    pub fn dependents_of(&self, service: &str) -> Vec<String> {
        let deps = deps_of(self);
        let g = graph(&deps);
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut stack = vec![service];
        while let Some(n) = stack.pop() {
            if !g.contains_node(n) {
                continue;
            }
            for d in g.neighbors_directed(n, Direction::Incoming) {
                if d != service && seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        self.start_order()
            .into_iter()
            .filter(|n| seen.contains(n.as_str()))
            .collect()
    }
}
