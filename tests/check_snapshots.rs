//! Snapshot tests of `pesim check`: one scenario file per input under
//! `tests/check/err/` (broken: at least one error, or, for `warn_*.yaml`, no error
//! but at least one warning) and `tests/check/ok/` (valid: no error, a scenario).
//!
//! Each snapshot is exactly what `pesim check FILE` prints (diagnostics with
//! `file:line:col` and a caret under the offending text, then the verdict line),
//! as run from the repository root (`tests/check/err/x.yaml`), with any remaining
//! absolute path made relative to the repository.

use std::path::{Path, PathBuf};

use pesim::config::{Loaded, load_file};
use pesim::diag::Severity;

/// The repository root, as given by Cargo and as the OS resolves it, each with a
/// trailing separator, longest first.
fn root_prefixes() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut prefixes = vec![format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR)];
    if let Ok(canonical) = dir.canonicalize() {
        prefixes.push(format!("{}{}", canonical.display(), std::path::MAIN_SEPARATOR));
    }
    prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
    prefixes.dedup();
    prefixes
}

/// The input as `pesim check` run from the repository root names it
/// (`tests/check/err/x.yaml`): Cargo runs integration tests there. Loading by
/// this relative path keeps every file name in the output, and so the width
/// of every message, the same on every machine.
fn relative(path: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let here = std::env::current_dir().and_then(|d| d.canonicalize()).ok();
    match (path.strip_prefix(root), here == root.canonicalize().ok()) {
        (Ok(rel), true) => rel.to_path_buf(),
        _ => path.to_path_buf(),
    }
}

/// What `pesim check FILE` prints, run from the repository root.
fn render(path: &Path, loaded: &Loaded) -> String {
    let mut out: Vec<u8> = Vec::new();
    pesim::app::print_diagnostics(&mut out, path, loaded).expect("writing to a Vec cannot fail");
    let mut text = String::from_utf8(out).expect("diagnostics are UTF-8");
    for prefix in root_prefixes() {
        text = text.replace(&prefix, "");
    }
    if std::path::MAIN_SEPARATOR != '/' {
        text = text.replace(std::path::MAIN_SEPARATOR, "/");
    }
    text
}

fn count(loaded: &Loaded, severity: Severity) -> usize {
    loaded.diagnostics.list.iter().filter(|d| d.severity == severity).count()
}

#[test]
fn check_err() {
    insta::glob!("check/err/*.yaml", |path| {
        let path = relative(path);
        let loaded = load_file(&path);
        let rendered = render(&path, &loaded);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (errors, warnings) = (count(&loaded, Severity::Error), count(&loaded, Severity::Warning));
        if name.starts_with("warn_") {
            assert_eq!(errors, 0, "{name} should only warn, got:\n{rendered}");
            assert!(warnings >= 1, "{name} should warn, got:\n{rendered}");
            assert!(loaded.scenario.is_some(), "{name} has only warnings but no scenario:\n{rendered}");
        } else {
            assert!(errors >= 1, "{name} should have an error, got:\n{rendered}");
            assert!(loaded.scenario.is_none(), "{name} has errors but produced a scenario:\n{rendered}");
        }
        // Every error of a file, and only located ones except for unreadable files.
        for d in &loaded.diagnostics.list {
            assert!(
                d.location.is_some() || d.message.starts_with("cannot read"),
                "{name}: diagnostic without a location: {}",
                d.message
            );
        }
        assert!(!rendered.contains("panicked"), "{name}: {rendered}");
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn check_ok() {
    insta::glob!("check/ok/*.yaml", |path| {
        let path = relative(path);
        let loaded = load_file(&path);
        let rendered = render(&path, &loaded);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(count(&loaded, Severity::Error), 0, "{name} should be valid, got:\n{rendered}");
        assert!(loaded.scenario.is_some(), "{name} is valid but produced no scenario:\n{rendered}");
        insta::assert_snapshot!(rendered);
    });
}
