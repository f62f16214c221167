//! The runtime's layering rule, checked on its sources: every module imports only from its own
//! layer or the layers below it, and no module imports itself through others (no import
//! cycle) except `builder` ↔ `runtime`. The rule is written at the top of
//! `docs/architecture.md`; the layers are listed here and in `src/lib.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Each module's layer: 0 utilities, 1 leaf data structures, 2 the scheduler, 3 the
/// user-facing API, 4 the entry points. A module not listed takes the layer of its closest
/// listed ancestor.
const LAYERS: &[(&str, u8)] = &[
    ("util", 0),
    ("observe::report", 0),
    ("io::poller", 1),
    ("io::reactor", 1),
    ("observe", 1),
    ("task::meta", 1),
    ("time::timers", 1),
    ("scheduler", 2),
    ("blocking", 3),
    ("fs", 3),
    ("hyper", 3),
    ("inspect", 3),
    ("io", 3),
    ("net", 3),
    ("process", 3),
    ("signal", 3),
    ("task", 3),
    ("time", 3),
    ("builder", 4),
    ("per_core", 4),
    ("runtime", 4),
];

/// The one import cycle allowed (tokio has it too): the builder builds a runtime, and the
/// runtime's `run` uses the default builder.
const ALLOWED_CYCLE: [&str; 2] = ["builder", "runtime"];

#[test]
fn modules_import_only_from_their_layer_or_below_and_form_no_cycle() {
    let modules = read_modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        modules.contains_key("scheduler::cycle"),
        "sources not found"
    );
    let graph = import_graph(&modules);

    let mut violations = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            if layer(to) > layer(from) {
                violations.push(format!(
                    "{from} (layer {}) imports {to} (layer {})",
                    layer(from),
                    layer(to)
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports from a higher layer:\n{}",
        violations.join("\n")
    );

    let cycles: Vec<Vec<String>> = strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .filter(|c| {
            let mut names: Vec<&str> = c.iter().map(String::as_str).collect();
            names.sort();
            names != ALLOWED_CYCLE
        })
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:?}");
}

#[test]
fn the_checker_sees_imports_in_every_form() {
    let modules = BTreeMap::from([
        (
            "a".to_owned(),
            "use crate::b::{c::X, d};\nfn f() { super::e::g(); }".to_owned(),
        ),
        (
            "b::c".to_owned(),
            "use crate::a;\n// crate::e in a comment\n".to_owned(),
        ),
        (
            "b::d".to_owned(),
            "pub(crate) use self::inner::Y;\nmod m { use super::Z; }".to_owned(),
        ),
        ("b::d::inner".to_owned(), String::new()),
        (
            "e".to_owned(),
            "/// [`x`](crate::a)\nfn f() { crate::b::c::h(); }".to_owned(),
        ),
        (
            "b".to_owned(),
            "pub use c::X;\n#[cfg(test)]\nmod tests { use super::a; }".to_owned(),
        ),
    ]);
    let graph = import_graph(&modules);
    let edges = |m: &str| graph[m].iter().cloned().collect::<Vec<_>>();
    assert_eq!(edges("a"), ["b::c", "b::d", "e"]);
    assert_eq!(edges("b::c"), ["a"]);
    assert_eq!(edges("b::d"), ["b::d::inner"]);
    assert_eq!(edges("e"), ["b::c"]);
    assert_eq!(edges("b"), ["b::c"]);
    let cycles: Vec<_> = strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    assert_eq!(
        cycles,
        [vec!["a".to_owned(), "b::c".to_owned(), "e".to_owned()]]
    );
}

/// The layer of `module`.
fn layer(module: &str) -> u8 {
    let mut path = module;
    loop {
        if let Some((_, layer)) = LAYERS.iter().find(|(m, _)| *m == path) {
            return *layer;
        }
        match path.rfind("::") {
            Some(i) => path = &path[..i],
            None => panic!("module {module} has no layer: add it to LAYERS and to the docs"),
        }
    }
}

/// Every module of the crate but the root, by path (`scheduler::cycle`), with its source.
fn read_modules(src: &Path) -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            if parts == ["lib"] {
                continue; // the crate root only declares modules and re-exports
            }
            modules.insert(parts.join("::"), fs::read_to_string(&path).unwrap());
        }
    }
    modules
}

/// Which modules each module imports (by `use` or by a path in code; comments do not count),
/// each import resolved to the deepest module its path names.
fn import_graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (module, source) in modules {
        let code = strip_test_modules(&strip_comments(source));
        let mut targets = BTreeSet::new();
        for (inline, path) in paths(&code) {
            // The module the path is written in: the file's, or an inline module in it.
            let mut here: Vec<String> = module.split("::").map(str::to_owned).collect();
            here.extend(inline);
            let absolute = match path.first().map(String::as_str) {
                Some("crate") => path[1..].to_vec(),
                Some("super") => {
                    here.pop();
                    here.extend(path[1..].iter().cloned());
                    here
                }
                Some("self") => {
                    here.extend(path[1..].iter().cloned());
                    here
                }
                Some(first) if modules.contains_key(&format!("{}::{first}", here.join("::"))) => {
                    here.extend(path.iter().cloned());
                    here
                }
                _ => continue, // another crate, or an item of an inline module
            };
            let target = (1..=absolute.len())
                .rev()
                .map(|n| absolute[..n].join("::"))
                .find(|m| modules.contains_key(m));
            match target {
                Some(target) if &target != module => {
                    targets.insert(target);
                }
                Some(_) => {}
                None => panic!(
                    "{module} imports {} from the crate root: import it from the module that \
                     defines it, so that the layering can be checked",
                    absolute.join("::")
                ),
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// The source without comments (line comments, doc comments and block comments).
fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The code without its `#[cfg(test)]` modules (their `super` is another module).
fn strip_test_modules(code: &str) -> String {
    let mut code = code.to_owned();
    while let Some(start) = code.find("#[cfg(test)]") {
        let Some(open) = code[start..].find('{').map(|i| start + i) else {
            break;
        };
        let mut depth = 0;
        let mut end = code.len();
        for (i, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        code.replace_range(start..end, "");
    }
    code
}

/// Every module path in `code` that starts with `crate`, `super` or `self`, and every path of
/// a `use` declaration; grouped imports (`a::{b, c::d}`) give one path per leaf. Each path
/// comes with the inline modules (`mod name { .. }`) it stands in.
fn paths(code: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let tokens = tokenize(code);
    let mut paths = Vec::new();
    // Inline modules around the current token, with the brace depth inside each.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i].as_str() {
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t == "{") => {
                inline.push((tokens[i + 1].clone(), depth + 1));
            }
            _ => {}
        }
        let starts_use = tokens[i] == "use";
        let starts_path = matches!(tokens[i].as_str(), "crate" | "super" | "self")
            && tokens.get(i + 1).is_some_and(|t| t == "::")
            && (i == 0 || tokens[i - 1] != "::");
        if starts_use || starts_path {
            let mut found = Vec::new();
            i = parse_tree(&tokens, if starts_use { i + 1 } else { i }, &[], &mut found);
            let prefix: Vec<String> = inline.iter().map(|(name, _)| name.clone()).collect();
            paths.extend(found.into_iter().map(|p| (prefix.clone(), p)));
        } else {
            i += 1;
        }
    }
    paths
}

/// Parses a path or a `use` tree from `tokens[i]` on, prefixed by `prefix`; returns the index
/// after it.
fn parse_tree(
    tokens: &[String],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix.to_vec();
    if tokens.get(i).is_some_and(|t| t == "::") {
        i += 1; // a leading `::` (an extern crate path)
    }
    loop {
        match tokens.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                while tokens.get(i).is_some_and(|t| t != "}") {
                    i = parse_tree(tokens, i, &path, out);
                    if tokens.get(i).is_some_and(|t| t == ",") {
                        i += 1;
                    }
                }
                return i + 1;
            }
            Some(t) if is_ident(t) => {
                path.push(t.to_owned());
                i += 1;
                if tokens.get(i).is_some_and(|t| t == "::") {
                    i += 1;
                    continue;
                }
                if tokens.get(i).is_some_and(|t| t == "as") {
                    i += 2;
                }
                out.push(path);
                return i;
            }
            Some("*") => {
                out.push(path);
                return i + 1;
            }
            _ => {
                if !path.is_empty() {
                    out.push(path);
                }
                return i;
            }
        }
    }
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && token.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Identifiers, `::`, and single punctuation characters; string literals are skipped.
fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut ident = c.to_string();
            while let Some(&c) = chars.peek() {
                if !(c.is_alphanumeric() || c == '_') {
                    break;
                }
                ident.push(c);
                chars.next();
            }
            tokens.push(ident);
        } else if c == '"' {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            tokens.push("::".to_owned());
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    tokens
}

/// The strongly connected components of `graph` (Tarjan's algorithm), each sorted.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<String>>,
    }

    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.components.push(component);
        }
    }

    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.components
}
