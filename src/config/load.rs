//! Reading scenario files: the file itself, its `include:`s (merged), then decoding.
//!
//! Merge rule: list sections (`workgroups`, `segments`, `outcomes`, `action_maps`,
//! `cases`, `expect`) are concatenated, included files first; any other key comes
//! from the including file when it has it, else from the first include that does.
//! Nodes keep their own file, so diagnostics point into the included file.

use std::path::{Component, Path, PathBuf};

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

pub fn load_file(path: &Path) -> Loaded {
    load_with(path, None, &[])
}

/// Loads `path` (or `text` as if read from it), applying `--set KEY=VALUE`
/// edits to the merged tree before decoding.
pub fn load_with(path: &Path, text: Option<&str>, sets: &[String]) -> Loaded {
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::default();
    let mut stack = Vec::new();
    let name = path.display().to_string();
    let root = read_tree(path, name, text, None, &mut sources, &mut diagnostics, &mut stack);
    let scenario = root.and_then(|mut root| {
        for spec in sets {
            if let Err(d) = super::overrides::apply(&mut sources, &mut root, spec) {
                diagnostics.push(d);
            }
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

/// Reads `path` (named `name` in diagnostics), its includes recursively, and
/// merges them. `stack` holds the files being read (canonical path, name), for cycles.
fn read_tree(
    path: &Path,
    name: String,
    text: Option<&str>,
    site: Option<&Node>,
    sources: &mut Sources,
    diags: &mut Diagnostics,
    stack: &mut Vec<(PathBuf, String)>,
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
                diags.push(here(Diagnostic::error(format!("cannot read {name}: {e}"))));
                return None;
            }
        },
    };
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if let Some(i) = stack.iter().position(|(p, _)| *p == canonical) {
        let cycle: Vec<&str> = stack[i..].iter().map(|(_, n)| n.as_str()).chain([name.as_str()]).collect();
        diags.push(
            here(Diagnostic::error(format!("include cycle: {}", cycle.join(" → "))))
                .help("a file cannot include itself, directly or through other files"),
        );
        return None;
    }
    let file = sources.add(name.clone(), text);
    let root = match yaml::parse(file, &sources.get(file).text) {
        Ok(root) => root,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let empty = root.span.is_empty() && (root.is_null() || matches!(&root.kind, NodeKind::Map(p) if p.is_empty()));
    if empty && site.is_none() {
        diags.push(
            Diagnostic::error("the file is empty")
                .at(file, 0..0)
                .help("a scenario needs at least a `name:`; see `pesim schema` for the other keys"),
        );
        return None;
    }
    let NodeKind::Map(pairs) = &root.kind else {
        if site.is_some() && !root.is_null() {
            diags.push(
                here(Diagnostic::error(format!(
                    "`{name}` cannot be included: its top level is {}, not a mapping (`key: value` lines)",
                    root.describe()
                )))
                .help("an included file holds top-level sections, e.g. `segments:` with its list under it"),
            );
            return None;
        }
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
    stack.push((canonical, name));
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut included = Vec::new();
    for item in &items {
        let Some(rel) = item.as_scalar() else {
            diags.push(Diagnostic::error("an include is a file path").at(item.file, item.span.clone()));
            continue;
        };
        let child = dir.join(rel);
        let child_name = normalize(&child).display().to_string();
        if let Some(tree) = read_tree(&child, child_name, None, Some(item), sources, diags, stack) {
            included.push(tree);
        }
    }
    stack.pop();
    Some(merge(root, included))
}

/// `a/./b/../c` → `a/c`, without asking the file system (so a relative path
/// stays relative, as the user wrote it). Leading `..`s are kept.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        load_str("t.yaml", text).diagnostics.list.into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn paths_are_normalised_lexically() {
        assert_eq!(normalize(Path::new("a/b/../c/./d.yaml")), Path::new("a/c/d.yaml"));
        assert_eq!(normalize(Path::new("../x/../y.yaml")), Path::new("../y.yaml"));
        assert_eq!(normalize(Path::new("a/..")), Path::new("."));
    }

    #[test]
    fn a_misspelled_required_key_is_reported_once() {
        let m = messages("name: t\nsegments:\n  - id: a\n    whne: page.url contains \"/a\"\n");
        assert_eq!(m, ["unknown key `whne` in a segment"]);
        // Not close to the missing key: both are reported.
        let m = messages("name: t\nsegments:\n  - id: a\n    colour: red\n");
        assert_eq!(m, ["a segment is missing the required key `when`", "unknown key `colour` in a segment"]);
    }

    #[test]
    fn an_empty_required_key_is_named() {
        let loaded = load_str("t.yaml", "name: t\nsegments:\n  - id: a\n    when:\n");
        let d = &loaded.diagnostics.list[0];
        assert_eq!(d.message, "`when` is empty");
        assert_eq!(
            &loaded.sources.get(d.location.as_ref().unwrap().file).text[d.location.as_ref().unwrap().span.clone()],
            "when"
        );
    }

    #[test]
    fn empty_files() {
        assert_eq!(messages(""), ["the file is empty"]);
        assert_eq!(messages("# only a comment\n"), ["the file is empty"]);
        assert_eq!(messages("{}"), ["the scenario is missing the required key `name`"]);
    }

    #[test]
    fn quoted_values_are_text() {
        let m = messages("name: t\nseed: \"7\"\nworkgroups: [{id: w, altocloud_updates: 'false'}]\n");
        assert_eq!(
            m,
            [
                "`seed` must be a whole number, found the quoted text `\"7\"`",
                "`altocloud_updates` must be true or false, found the quoted text `'false'`",
            ]
        );
    }

    #[test]
    fn durations_must_be_positive() {
        let m = messages("name: t\nduration: 0s\nsettings: {offer_timeout: -5s}\n");
        assert_eq!(
            m,
            ["`duration` must be longer than 0s", "`offer_timeout` cannot be `-5s`: durations cannot be negative"]
        );
    }
}
