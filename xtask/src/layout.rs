//! `cargo xtask layout`: the shape rules a reader of `crates/` can rely on.
//!
//! - No module cycles: no two modules of one crate import each other, directly or through
//!   others. An edge is any path a module names (`use crate::a::X`, `super::b::f()`, a type
//!   `crate::c::T`), resolved through `pub use` re-exports to the module that defines the item,
//!   so a cycle hidden behind `crate::Item` re-exported from `lib.rs` still counts. A module's
//!   edges to its own descendants are not counted: a folder module is the facade of its children.
//! - No source file under `crates/` over [`FILE_LINES_MAX`] lines.
//! - No function outside tests over [`FN_LINES_MAX`] lines.
//!
//! Test code (`#[cfg(test)]` items, `#[test]` functions) is not part of the module graph and
//! has no function limit; test files still have the file limit. [`KNOWN`] lists the findings
//! not fixed yet, each one a debt with a reason; the test fails on a finding not listed there
//! and on a listed one that is gone, so the list only shrinks.

use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// "About 1,000 lines": the most lines a source file may have.
pub const FILE_LINES_MAX: usize = 1_050;
/// "About 100 lines": the most lines a function outside tests may have.
pub const FN_LINES_MAX: usize = 110;

/// Findings not fixed yet: each is a debt, named exactly as [`check`] prints it. Empty since
/// issue 13 paid the last six; a finding that must wait is added here with its reason.
pub const KNOWN: &[&str] = &[];

/// A module: the crate it belongs to (its root file) and its path inside that crate.
type ModulePath = Vec<String>;

/// One crate root's module tree.
#[derive(Default)]
struct Tree {
    /// Module path -> the file that holds it.
    files: BTreeMap<ModulePath, PathBuf>,
    /// Module path -> (name -> the full path it re-exports), from `pub use`.
    reexports: BTreeMap<ModulePath, BTreeMap<String, ModulePath>>,
    /// Module path -> every full path it names (already absolute: `crate` stripped).
    uses: BTreeMap<ModulePath, BTreeSet<ModulePath>>,
}

/// Every finding in the tree at `root` (the workspace), sorted, one line each.
pub fn check(root: &Path) -> Result<Vec<String>> {
    let mut findings = Vec::new();
    let crates = root.join("crates");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&crates)
        .with_context(|| format!("reading {}", crates.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        for crate_root in crate_roots(&dir.join("src")) {
            let tree = load_tree(&crate_root)?;
            findings.extend(cycles(&tree, &crate_root, root));
            for file in tree.files.values() {
                findings.extend(long_functions(file, root)?);
            }
        }
        findings.extend(long_files(&dir, root)?);
    }
    findings.sort();
    findings.dedup();
    Ok(findings)
}

/// `src/lib.rs`, `src/main.rs` and `src/bin/*.rs`: each is the root of its own module tree.
fn crate_roots(src: &Path) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["lib.rs", "main.rs"]
        .iter()
        .map(|name| src.join(name))
        .filter(|path| path.is_file())
        .collect();
    if let Ok(entries) = fs::read_dir(src.join("bin")) {
        let mut bins: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
            .collect();
        bins.sort();
        roots.extend(bins);
    }
    roots
}

fn parse(file: &Path) -> Result<syn::File> {
    let text = fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        if path.is_ident("test") {
            return true;
        }
        if !path.is_ident("cfg") {
            return false;
        }
        let mut test = false;
        let _ = attr.parse_nested_meta(|meta| {
            test |= meta.path.is_ident("test");
            Ok(())
        });
        test
    })
}

/// Reads the module tree under `crate_root`, following `mod name;` declarations.
fn load_tree(crate_root: &Path) -> Result<Tree> {
    let mut tree = Tree::default();
    let mut pending = vec![(Vec::new(), crate_root.to_path_buf(), true)];
    while let Some((module, file, owns_dir)) = pending.pop() {
        let ast = parse(&file)?;
        // Where `mod child;` of this file lives: beside a root or a mod.rs, else in a folder
        // named after the file.
        let dir = if owns_dir {
            file.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            file.with_extension("")
        };
        let mut collector = Collector::new(&module, &ast.items);
        collector.items(&ast.items);
        for child in collector.children.drain(..) {
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(&child).join("mod.rs");
            let mut path = module.clone();
            path.push(child);
            if flat.is_file() {
                pending.push((path, flat, false));
            } else if nested.is_file() {
                pending.push((path, nested, true));
            }
        }
        tree.reexports.insert(module.clone(), collector.reexports);
        tree.uses.insert(module.clone(), collector.uses);
        tree.files.insert(module, file);
    }
    Ok(tree)
}

/// Walks one file's items: its `mod` declarations, re-exports, and every path it names.
struct Collector {
    module: ModulePath,
    /// The modules this file declares: a path may start with one of them (`use a::X` in 2018+).
    local: BTreeSet<String>,
    children: Vec<String>,
    reexports: BTreeMap<String, ModulePath>,
    uses: BTreeSet<ModulePath>,
}

impl Collector {
    fn new(module: &ModulePath, items: &[syn::Item]) -> Self {
        let local = items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Mod(module) if !is_test_only(&module.attrs) => {
                    Some(module.ident.to_string())
                }
                _ => None,
            })
            .collect();
        Self {
            module: module.clone(),
            local,
            children: Vec::new(),
            reexports: BTreeMap::new(),
            uses: BTreeSet::new(),
        }
    }

    fn items(&mut self, items: &[syn::Item]) {
        for item in items {
            self.item(item);
        }
    }

    fn item(&mut self, item: &syn::Item) {
        match item {
            syn::Item::Mod(module) if is_test_only(&module.attrs) => {}
            syn::Item::Mod(module) => match &module.content {
                None => self.children.push(module.ident.to_string()),
                // An inline module is part of its file's module here.
                Some((_, items)) => self.items(items),
            },
            syn::Item::Use(item_use) if is_test_only(&item_use.attrs) => {}
            syn::Item::Use(item_use) => {
                let public = !matches!(item_use.vis, syn::Visibility::Inherited);
                let mut leaves = Vec::new();
                use_leaves(&item_use.tree, Vec::new(), &mut leaves);
                for (path, name) in leaves {
                    let Some(absolute) = self.absolute(&path) else {
                        continue;
                    };
                    if public && let Some(name) = name {
                        self.reexports.insert(name, absolute.clone());
                    }
                    self.uses.insert(absolute);
                }
            }
            syn::Item::Fn(function) if is_test_only(&function.attrs) => {}
            syn::Item::Impl(block) if is_test_only(&block.attrs) => {}
            other => self.visit_item(other),
        }
    }

    /// `crate::a::b` -> `[a, b]`; `super::x` and `self::x` relative to this module; `None` for
    /// a path into another crate.
    fn absolute(&self, path: &[String]) -> Option<ModulePath> {
        let (first, rest) = path.split_first()?;
        match first.as_str() {
            "crate" => Some(rest.to_vec()),
            "self" => Some(self.module.iter().chain(rest).cloned().collect()),
            "super" => {
                let mut base = self.module.clone();
                base.pop();
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                Some(base.into_iter().chain(rest.iter().cloned()).collect())
            }
            name if self.local.contains(name) => {
                Some(self.module.iter().chain(path).cloned().collect())
            }
            _ => None,
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_fn(&mut self, function: &'ast syn::ItemFn) {
        if !is_test_only(&function.attrs) {
            syn::visit::visit_item_fn(self, function);
        }
    }

    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        if !is_test_only(&module.attrs) {
            syn::visit::visit_item_mod(self, module);
        }
    }

    fn visit_item_use(&mut self, item_use: &'ast syn::ItemUse) {
        // A `use` inside a function body.
        let mut leaves = Vec::new();
        use_leaves(&item_use.tree, Vec::new(), &mut leaves);
        for (path, _) in leaves {
            if let Some(absolute) = self.absolute(&path) {
                self.uses.insert(absolute);
            }
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(absolute) = self.absolute(&segments) {
            self.uses.insert(absolute);
        }
        syn::visit::visit_path(self, path);
    }
}

/// Flattens a use tree into (path, name it binds); a glob binds no name.
fn use_leaves(
    tree: &syn::UseTree,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let extend = |ident: &syn::Ident| {
        let mut path = prefix.clone();
        path.push(ident.to_string());
        path
    };
    match tree {
        syn::UseTree::Path(path) => use_leaves(&path.tree, extend(&path.ident), out),
        syn::UseTree::Name(name) if name.ident == "self" => {
            let bound = prefix.last().cloned();
            out.push((prefix.clone(), bound));
        }
        syn::UseTree::Name(name) => out.push((extend(&name.ident), Some(name.ident.to_string()))),
        syn::UseTree::Rename(rename) => {
            let path = if rename.ident == "self" {
                prefix.clone()
            } else {
                extend(&rename.ident)
            };
            out.push((path, Some(rename.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
        syn::UseTree::Group(group) => {
            for item in &group.items {
                use_leaves(item, prefix.clone(), out);
            }
        }
    }
}

/// The module an absolute path lands in: the longest module prefix, then through re-exports of
/// the remaining name (bounded, in case re-exports loop).
fn resolve(tree: &Tree, path: &[String]) -> ModulePath {
    let mut path = path.to_vec();
    for _ in 0..8 {
        let mut module: ModulePath = Vec::new();
        let mut rest = path.as_slice();
        while let Some((head, tail)) = rest.split_first() {
            let mut next = module.clone();
            next.push(head.clone());
            if !tree.files.contains_key(&next) {
                break;
            }
            module = next;
            rest = tail;
        }
        let target = rest
            .first()
            .and_then(|name| tree.reexports.get(&module).and_then(|map| map.get(name)));
        match target {
            Some(source) if source.as_slice() != path.as_slice() => {
                path = source.iter().chain(rest.iter().skip(1)).cloned().collect();
            }
            _ => return module,
        }
    }
    Vec::new()
}

fn name_of(module: &ModulePath) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// One line per strongly connected set of modules, with one cycle through it.
fn cycles(tree: &Tree, crate_root: &Path, root: &Path) -> Vec<String> {
    let mut edges: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
    for (from, paths) in &tree.uses {
        for path in paths {
            let to = resolve(tree, path);
            // Self edges, edges to the root (its items are the crate's surface), and a folder
            // module's edges to its own children are not dependencies between modules.
            if to == *from || to.is_empty() || to.starts_with(from) {
                continue;
            }
            edges.entry(from.clone()).or_default().insert(to);
        }
    }
    let crate_name = crate_root
        .strip_prefix(root)
        .unwrap_or(crate_root)
        .display()
        .to_string();
    let mut findings = Vec::new();
    for component in strongly_connected(&edges) {
        if component.len() < 2 {
            continue;
        }
        let cycle = one_cycle(&edges, &component);
        let names: Vec<String> = cycle.iter().map(name_of).collect();
        findings.push(format!("cycle in {crate_name}: {}", names.join(" -> ")));
    }
    findings
}

/// Tarjan's algorithm, iterative enough for module graphs (recursion depth = module count).
fn strongly_connected(edges: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<Vec<ModulePath>> {
    struct State<'a> {
        edges: &'a BTreeMap<ModulePath, BTreeSet<ModulePath>>,
        index: BTreeMap<ModulePath, usize>,
        low: BTreeMap<ModulePath, usize>,
        stack: Vec<ModulePath>,
        on_stack: BTreeSet<ModulePath>,
        out: Vec<Vec<ModulePath>>,
    }
    fn visit(state: &mut State<'_>, node: &ModulePath) {
        let index = state.index.len();
        state.index.insert(node.clone(), index);
        state.low.insert(node.clone(), index);
        state.stack.push(node.clone());
        state.on_stack.insert(node.clone());
        let edges = state.edges;
        for next in edges.get(node).into_iter().flatten() {
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[node].min(state.low[next]);
                state.low.insert(node.clone(), low);
            } else if state.on_stack.contains(next) {
                let low = state.low[node].min(state.index[next]);
                state.low.insert(node.clone(), low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(&top);
                let done = top == *node;
                component.push(top);
                if done {
                    break;
                }
            }
            component.sort();
            state.out.push(component);
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for node in edges.keys() {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.out
}

/// A shortest cycle from the component's first module back to itself, inside the component.
fn one_cycle(
    edges: &BTreeMap<ModulePath, BTreeSet<ModulePath>>,
    component: &[ModulePath],
) -> Vec<ModulePath> {
    let members: BTreeSet<&ModulePath> = component.iter().collect();
    let start = &component[0];
    let mut parent: BTreeMap<ModulePath, ModulePath> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    while let Some(node) = queue.pop_front() {
        for next in edges.get(&node).into_iter().flatten() {
            if !members.contains(next) {
                continue;
            }
            if next == start {
                // Walk back from `node` to the start, then read it forwards and close the loop.
                let mut back = vec![node.clone()];
                while back.last() != Some(start) {
                    let at = back.last().expect("never empty");
                    back.push(parent[at].clone());
                }
                back.reverse();
                back.push(start.clone());
                return back;
            }
            if !parent.contains_key(next) {
                parent.insert(next.clone(), node.clone());
                queue.push_back(next.clone());
            }
        }
    }
    component.to_vec()
}

/// Functions (free, in impls, in traits) outside test code longer than [`FN_LINES_MAX`].
fn long_functions(file: &Path, root: &Path) -> Result<Vec<String>> {
    struct Lengths<'a> {
        file: &'a str,
        out: Vec<String>,
    }
    impl Lengths<'_> {
        fn measure(&mut self, name: &syn::Ident, span: proc_macro2::Span) {
            let lines = span.end().line.saturating_sub(span.start().line) + 1;
            if lines > FN_LINES_MAX {
                self.out.push(format!(
                    "long function: {}::{name} ({lines} lines)",
                    self.file
                ));
            }
        }
    }
    impl<'ast> Visit<'ast> for Lengths<'_> {
        fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
            if !is_test_only(&module.attrs) {
                syn::visit::visit_item_mod(self, module);
            }
        }
        fn visit_item_fn(&mut self, function: &'ast syn::ItemFn) {
            if !is_test_only(&function.attrs) {
                self.measure(&function.sig.ident, syn::spanned::Spanned::span(function));
                syn::visit::visit_item_fn(self, function);
            }
        }
        fn visit_impl_item_fn(&mut self, function: &'ast syn::ImplItemFn) {
            if !is_test_only(&function.attrs) {
                self.measure(&function.sig.ident, syn::spanned::Spanned::span(function));
                syn::visit::visit_impl_item_fn(self, function);
            }
        }
        fn visit_trait_item_fn(&mut self, function: &'ast syn::TraitItemFn) {
            if function.default.is_some() {
                self.measure(&function.sig.ident, syn::spanned::Spanned::span(function));
            }
            syn::visit::visit_trait_item_fn(self, function);
        }
    }
    let ast = parse(file)?;
    let shown = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let mut lengths = Lengths {
        file: &shown,
        out: Vec::new(),
    };
    lengths.visit_file(&ast);
    Ok(lengths.out)
}

/// Every `.rs` file under a crate's folder (src, tests, benches, examples) over
/// [`FILE_LINES_MAX`] lines.
fn long_files(dir: &Path, root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in fs::read_dir(&at).with_context(|| format!("reading {}", at.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name != "target") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let lines = fs::read_to_string(&path)?.lines().count();
                if lines > FILE_LINES_MAX {
                    let shown = path.strip_prefix(root).unwrap_or(&path).display();
                    out.push(format!("long file: {shown} ({lines} lines)"));
                }
            }
        }
    }
    Ok(out)
}

/// The findings of [`check`] that [`KNOWN`] does not list, and the listed ones that are gone.
pub fn unexpected(findings: &[String]) -> (Vec<String>, Vec<String>) {
    // Line counts change with every edit: a known finding matches up to its " (" suffix.
    let key = |line: &str| line.split(" (").next().unwrap_or(line).to_string();
    let known: BTreeSet<String> = KNOWN.iter().map(|line| key(line)).collect();
    let found: BTreeSet<String> = findings.iter().map(|line| key(line)).collect();
    let new = findings
        .iter()
        .filter(|line| !known.contains(&key(line)))
        .cloned()
        .collect();
    let gone = known.difference(&found).cloned().collect();
    (new, gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_keeps_its_shape() {
        let root = crate::root();
        let findings = check(&root).expect("the tree parses");
        let (new, gone) = unexpected(&findings);
        assert!(
            new.is_empty() && gone.is_empty(),
            "layout findings not in xtask/src/layout.rs KNOWN:\n  {}\nKNOWN entries now fixed \
             (remove them):\n  {}",
            new.join("\n  "),
            gone.join("\n  "),
        );
    }

    fn tree_of(files: &[(&str, &str)]) -> (tempdir::Dir, Vec<String>) {
        let dir = tempdir::Dir::new();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let findings = check(dir.path()).unwrap();
        (dir, findings)
    }

    /// A scratch directory removed on drop (no extra dependency for one test helper).
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU64, Ordering};
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let path = std::env::temp_dir().join(format!(
                    "xtask-layout-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    const MANIFEST: &str = "[package]\nname = \"k\"\n";

    #[test]
    fn a_cycle_through_a_root_reexport_is_found() {
        let (_dir, findings) = tree_of(&[
            ("crates/k/Cargo.toml", MANIFEST),
            ("crates/k/src/lib.rs", "mod a;\nmod b;\npub use a::A;\n"),
            (
                "crates/k/src/a.rs",
                "pub struct A;\nfn f() { crate::b::g(); }\n",
            ),
            ("crates/k/src/b.rs", "use crate::A;\npub fn g() {}\n"),
        ]);
        assert_eq!(
            findings,
            vec!["cycle in crates/k/src/lib.rs: a -> b -> a".to_string()]
        );
    }

    #[test]
    fn a_folder_using_its_children_and_tests_are_not_cycles() {
        let (_dir, findings) = tree_of(&[
            ("crates/k/Cargo.toml", MANIFEST),
            ("crates/k/src/lib.rs", "mod m;\nmod z;\n"),
            (
                "crates/k/src/m/mod.rs",
                "mod x;\npub use x::X;\npub struct P;\n",
            ),
            ("crates/k/src/m/x.rs", "use super::P;\npub struct X(P);\n"),
            (
                "crates/k/src/z.rs",
                "use crate::m::X;\n#[cfg(test)]\nmod tests { use crate::m::x; }\n",
            ),
        ]);
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn long_files_and_functions_are_found() {
        let body = "    let _ = 1;\n".repeat(FN_LINES_MAX);
        let long_fn = format!("fn big() {{\n{body}}}\n#[test]\nfn long_test() {{\n{body}}}\n");
        let long_file = "// line\n".repeat(FILE_LINES_MAX + 1);
        let (_dir, findings) = tree_of(&[
            ("crates/k/Cargo.toml", MANIFEST),
            ("crates/k/src/lib.rs", "mod f;\n"),
            ("crates/k/src/f.rs", &long_fn),
            ("crates/k/tests/t.rs", &long_file),
        ]);
        assert_eq!(
            findings,
            vec![
                format!(
                    "long file: crates/k/tests/t.rs ({} lines)",
                    FILE_LINES_MAX + 1
                ),
                format!(
                    "long function: crates/k/src/f.rs::big ({} lines)",
                    FN_LINES_MAX + 2
                ),
            ]
        );
    }
}
