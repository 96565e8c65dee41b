//! The library's modules depend on each other one way (issue 16, item 3): the import graph of
//! `src/` at file level, read from the sources, has no cycle. An edge a → b is any path
//! `crate::b…` or `super::…` resolving to b in a's code outside its unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`io::layout`) of every library source file, with its text.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut out = BTreeMap::new();
    for p in files {
        let rel = p.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|l| l == "mod") {
            parts.pop();
        }
        let name = parts.join("::");
        // only the library: files reachable from lib.rs's top-level modules
        let top = &parts[0];
        let declared = lib.lines().any(|l| {
            let l = l.trim();
            (l.starts_with("pub mod ") || l.starts_with("mod ") || l.starts_with("pub(crate) mod "))
                && l.trim_end_matches(';').ends_with(&format!(" {top}"))
        });
        if name == "lib" || name == "main" || !declared {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let code = match text.find("#[cfg(test)]\nmod tests") {
            Some(k) => text[..k].to_string(),
            None => text,
        };
        let code: String = code
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        out.insert(name, code);
    }
    out
}

/// The longest module path among `mods` that `path` (`a::b::c`) starts with.
fn resolve(path: &str, mods: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    (1..=parts.len())
        .rev()
        .map(|k| parts[..k].join("::"))
        .find(|c| mods.contains(c))
}

/// Identifier paths after `prefix` in `code`, with `{a, b::c}` groups expanded.
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(k) = rest.find(prefix) {
        rest = &rest[k + prefix.len()..];
        let head: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let after = &rest[head.len()..];
        if head.ends_with("::") && after.starts_with('{') {
            let group = &after[1..after.find('}').unwrap_or(after.len())];
            for item in group.split(',') {
                let item = item.split_whitespace().next().unwrap_or("");
                out.push(format!("{head}{item}"));
            }
        } else {
            out.push(head);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    let names: BTreeSet<String> = mods.keys().cloned().collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, code) in &mods {
        let parent = m.rsplit_once("::").map_or("", |x| x.0);
        let mut targets = paths_after(code, "crate::");
        targets.extend(paths_after(code, "super::").into_iter().map(|p| {
            if parent.is_empty() {
                p
            } else {
                format!("{parent}::{p}")
            }
        }));
        for t in targets {
            if let Some(t) = resolve(t.trim_end_matches(':'), &names) {
                // a module may use its own children (and itself)
                if t != *m && !t.starts_with(&format!("{m}::")) {
                    g.entry(m.clone()).or_default().insert(t);
                }
            }
        }
    }
    g
}

/// A cycle through the graph, if any (depth-first search with colours).
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        v: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(v.to_string(), 1);
        stack.push(v.to_string());
        for w in g.get(v).into_iter().flatten() {
            match state.get(w.as_str()).copied().unwrap_or(0) {
                0 => {
                    if let Some(c) = visit(w, g, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let k = stack.iter().position(|x| x == w).unwrap();
                    let mut c = stack[k..].to_vec();
                    c.push(w.clone());
                    return Some(c);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(v.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for v in g.keys() {
        if state.get(v.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(v, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_module_graph_has_no_cycle() {
    let g = graph();
    // the reader sees the edges it must: a sanity check that it parses the sources at all
    for (a, b) in [
        ("splitting", "observe"),
        ("io::layout", "diagnostics"),
        ("sweep", "problem"),
        ("problem", "generator"),
    ] {
        assert!(
            g.get(a).is_some_and(|t| t.contains(b)),
            "{a} -> {b} not found: {:?}",
            g.get(a)
        );
    }
    if let Some(c) = find_cycle(&g) {
        panic!("import cycle: {}", c.join(" -> "));
    }
}

#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let mut g = graph();
    g.entry("io::layout".into())
        .or_default()
        .insert("sweep::layout".into());
    let c = find_cycle(&g).expect("sweep::layout -> io::layout -> sweep::layout is a cycle");
    assert_eq!(c.first(), c.last());
}
