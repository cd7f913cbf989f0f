//! `--set KEY=VALUE`: edits to the YAML tree before it is decoded, so an
//! overridden value is checked exactly like one written in the file, and its
//! diagnostics point into the command line.
//!
//! KEY is a dotted path: mapping keys, list indices, or the `id`/`name` of a
//! list item (`workgroups.sales.agents.0.count`). Missing mapping keys are
//! created. VALUE is YAML (`3000`, `30s`, `[a, b]`, `{count: 2}`).

use super::yaml::{self, Node, NodeKind, Style};
use crate::diag::{Diagnostic, FileId, Sources};
use crate::dsl::error::did_you_mean;

/// Applies one `KEY=VALUE` to `root`. The text is added to `sources` as `--set`.
pub fn apply(sources: &mut Sources, root: &mut Node, spec: &str) -> Result<(), Diagnostic> {
    let file = sources.add("--set", spec);
    let Some(eq) = spec.find('=') else {
        return Err(Diagnostic::error(format!("`--set {spec}` needs KEY=VALUE"))
            .at(file, 0..spec.len())
            .help("e.g. --set pureconnect.pacing_rate_ms=3000"));
    };
    let (key, value_text) = (&spec[..eq], &spec[eq + 1..]);
    if key.is_empty() {
        return Err(Diagnostic::error("`--set` needs a key before `=`").at(file, 0..1));
    }
    let mut value = match yaml::parse(file, value_text) {
        Ok(v) => v,
        Err(mut d) => {
            if let Some(l) = &mut d.location {
                l.span = (l.span.start + eq + 1)..(l.span.end + eq + 1);
            }
            return Err(d);
        }
    };
    shift(&mut value, eq + 1);
    if value.span.is_empty() {
        // An empty value: a null at the `=`.
        value.span = eq..eq + 1;
    }
    let mut node = root;
    let mut offset = 0;
    let parts: Vec<&str> = key.split('.').collect();
    for part in &parts {
        let span = offset..offset + part.len();
        offset += part.len() + 1;
        node = step(node, part, file, span)?;
    }
    *node = value;
    Ok(())
}

/// Moves the spans of a tree parsed from `spec[offset..]` to positions in `spec`.
fn shift(node: &mut Node, offset: usize) {
    node.span = node.span.start + offset..node.span.end + offset;
    match &mut node.kind {
        NodeKind::Scalar { .. } => {}
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| shift(n, offset)),
        NodeKind::Map(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            shift(k, offset);
            shift(v, offset);
        }),
    }
}

fn scalar(file: FileId, text: &str, span: std::ops::Range<usize>) -> Node {
    Node { kind: NodeKind::Scalar { value: text.to_string(), style: Style::Plain }, file, span }
}

/// One step down the path: into a mapping key (created if missing) or a list item.
fn step<'n>(
    node: &'n mut Node,
    part: &str,
    file: FileId,
    span: std::ops::Range<usize>,
) -> Result<&'n mut Node, Diagnostic> {
    if node.is_null() {
        node.kind = NodeKind::Map(Vec::new());
    }
    match &mut node.kind {
        NodeKind::Map(pairs) => {
            let pos = pairs.iter().position(|(k, _)| k.as_scalar() == Some(part));
            let i = match pos {
                Some(i) => i,
                None => {
                    // A new key: its value is filled by the next step or by VALUE.
                    let empty = scalar(file, "", span.clone());
                    pairs.push((scalar(file, part, span), empty));
                    pairs.len() - 1
                }
            };
            Ok(&mut pairs[i].1)
        }
        NodeKind::Seq(items) => {
            let by_index = part.parse::<usize>().ok().filter(|i| *i < items.len());
            let by_id = || {
                items.iter().position(|item| match &item.kind {
                    NodeKind::Map(pairs) => pairs
                        .iter()
                        .any(|(k, v)| matches!(k.as_scalar(), Some("id" | "name")) && v.as_scalar() == Some(part)),
                    _ => false,
                })
            };
            match by_index.or_else(by_id) {
                Some(i) => Ok(&mut items[i]),
                None => {
                    let ids: Vec<String> = items
                        .iter()
                        .filter_map(|item| match &item.kind {
                            NodeKind::Map(pairs) => pairs
                                .iter()
                                .find(|(k, _)| matches!(k.as_scalar(), Some("id" | "name")))
                                .and_then(|(_, v)| v.as_scalar().map(str::to_string)),
                            _ => None,
                        })
                        .collect();
                    let help = did_you_mean(part, ids.iter().map(String::as_str))
                        .unwrap_or_else(|| format!("use an index below {} or one of: {}", items.len(), ids.join(", ")));
                    Err(Diagnostic::error(format!("no list item `{part}`")).at(file, span).help(help))
                }
            }
        }
        NodeKind::Scalar { .. } => {
            Err(Diagnostic::error(format!("cannot go into `{part}`: the value above is a single value")).at(file, span))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::load_with;
    use std::path::Path;

    #[test]
    fn sets_nested_and_listed_values() {
        let text = "name: x\nworkgroups:\n  - id: sales\n    agents: [{count: 2}]\n";
        let l = load_with(
            Path::new("x.yaml"),
            Some(text),
            &["pureconnect.pacing_rate_ms=3000".into(), "workgroups.sales.agents.0.count=5".into()],
        );
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let sc = l.scenario.unwrap();
        assert_eq!(sc.pureconnect.pacing_rate.0, 3000);
        assert_eq!(sc.workgroups[0].agents[0].count, 5);
    }

    #[test]
    fn bad_sets_point_into_the_command_line() {
        let text = "name: x\nworkgroups:\n  - id: sales\n";
        let l = load_with(Path::new("x.yaml"), Some(text), &["workgroups.salse.schedule=x".into()]);
        let d = &l.diagnostics.list[0];
        assert_eq!(d.message, "no list item `salse`");
        assert_eq!(d.help.as_deref(), Some("did you mean `sales`?"));
        assert_eq!(d.location.as_ref().unwrap().span, 11..16);
        // A value of the wrong type is reported like one in the file, at the value.
        let l = load_with(Path::new("x.yaml"), Some(text), &["pureconnect.pacing_rate_ms=fast".into()]);
        let d = &l.diagnostics.list[0];
        assert!(d.message.contains("pacing_rate_ms"), "{}", d.message);
        let loc = d.location.as_ref().unwrap();
        assert_eq!(&l.sources.get(loc.file).text[loc.span.clone()], "fast");
    }
}
