//! Reading scenario files: the file itself, its `include:`s (merged), then decoding.
//!
//! Merge rule: list sections (`workgroups`, `segments`, `outcomes`, `action_maps`,
//! `cases`, `expect`) are concatenated, included files first; any other key comes
//! from the including file when it has it, else from the first include that does.
//! Nodes keep their own file, so diagnostics point into the included file.

use std::path::{Path, PathBuf};

use super::decode::decode;
use super::model::Scenario;
use super::reader::Cx;
use super::yaml::{self, Node, NodeKind};
use crate::diag::{Diagnostic, Diagnostics, Sources};

const LIST_SECTIONS: &[&str] = &["workgroups", "segments", "outcomes", "action_maps", "cases", "expect"];

/// The result of loading one scenario: the files read, what was wrong with them,
/// and the scenario when nothing was.
#[derive(Debug)]
pub struct Loaded {
    pub sources: Sources,
    pub diagnostics: Diagnostics,
    pub scenario: Option<Scenario>,
}

/// A change applied to the YAML tree before decoding (`--set KEY=VALUE`).
pub type Override<'a> = &'a dyn Fn(&mut Node, &mut Diagnostics);

pub fn load_file(path: &Path) -> Loaded {
    load_with(path, None, &[])
}

/// Loads `path`, applying `overrides` to the merged tree before decoding.
pub fn load_with(path: &Path, text: Option<&str>, overrides: &[Override<'_>]) -> Loaded {
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::default();
    let mut stack = Vec::new();
    let root = read_tree(path, text, None, &mut sources, &mut diagnostics, &mut stack);
    let scenario = root.and_then(|mut root| {
        for o in overrides {
            o(&mut root, &mut diagnostics);
        }
        if diagnostics.has_errors() {
            return None;
        }
        let mut cx = Cx { sources: &sources, diags: std::mem::take(&mut diagnostics) };
        let scenario = decode(&mut cx, &root);
        diagnostics = cx.diags;
        scenario.filter(|_| !diagnostics.has_errors())
    });
    diagnostics.sort();
    Loaded { sources, diagnostics, scenario }
}

/// Loads a scenario from text, as if read from `name` (tests, stdin).
pub fn load_str(name: &str, text: &str) -> Loaded {
    load_with(Path::new(name), Some(text), &[])
}

fn read_tree(
    path: &Path,
    text: Option<&str>,
    site: Option<&Node>,
    sources: &mut Sources,
    diags: &mut Diagnostics,
    stack: &mut Vec<PathBuf>,
) -> Option<Node> {
    let here = |d: Diagnostic| match site {
        Some(n) => d.at(n.file, n.span.clone()),
        None => d,
    };
    let text = match text {
        Some(t) => t.to_string(),
        None => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(here(Diagnostic::error(format!("cannot read {}: {e}", path.display()))));
                return None;
            }
        },
    };
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if stack.contains(&canonical) {
        diags.push(here(Diagnostic::error(format!("`{}` includes itself (through {})", path.display(), chain(stack)))));
        return None;
    }
    let file = sources.add(path.display().to_string(), text);
    let root = match yaml::parse(file, &sources.get(file).text) {
        Ok(root) => root,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let NodeKind::Map(pairs) = &root.kind else {
        return Some(root); // decode reports that the top level must be a mapping
    };
    let Some((_, includes)) = pairs.iter().find(|(k, _)| k.as_scalar() == Some("include")) else {
        return Some(root);
    };
    let items: Vec<Node> = match &includes.kind {
        NodeKind::Seq(items) => items.clone(),
        NodeKind::Scalar { .. } if !includes.is_null() => vec![includes.clone()],
        _ => Vec::new(),
    };
    stack.push(canonical);
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut included = Vec::new();
    for item in &items {
        let Some(rel) = item.as_scalar() else {
            diags.push(Diagnostic::error("an include is a file path").at(item.file, item.span.clone()));
            continue;
        };
        if let Some(tree) = read_tree(&dir.join(rel), None, Some(item), sources, diags, stack) {
            included.push(tree);
        }
    }
    stack.pop();
    Some(merge(root, included))
}

fn chain(stack: &[PathBuf]) -> String {
    stack.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" → ")
}

fn merge(root: Node, included: Vec<Node>) -> Node {
    let NodeKind::Map(own) = root.kind else { return root };
    let mut pairs: Vec<(Node, Node)> = Vec::new();
    let key = |k: &Node| k.as_scalar().unwrap_or("").to_string();
    for (k, v) in own.into_iter().filter(|(k, _)| k.as_scalar() != Some("include")) {
        pairs.push((k, v));
    }
    for inc in included {
        let NodeKind::Map(inc_pairs) = inc.kind else { continue };
        for (k, v) in inc_pairs {
            let name = key(&k);
            if name == "include" {
                continue;
            }
            match pairs.iter_mut().find(|(pk, _)| key(pk) == name) {
                Some((_, existing)) if existing.is_null() => *existing = v,
                Some((_, existing)) if LIST_SECTIONS.contains(&name.as_str()) => {
                    if let (NodeKind::Seq(mine), NodeKind::Seq(theirs)) = (&mut existing.kind, v.kind) {
                        let mut items = theirs;
                        items.append(mine);
                        *mine = items;
                    }
                }
                Some(_) => {}
                None => pairs.push((k, v)),
            }
        }
    }
    Node { kind: NodeKind::Map(pairs), file: root.file, span: root.span }
}
