//! SECURITY.md names a test for every statement it makes: each test it names must exist.
//!
//! A name is a backticked snake_case word of three parts or more (`a_b_c`), alone or at the
//! end of a path such as `maintenance-core::src/tests.rs::name`; each must be a function
//! somewhere in the workspace's Rust sources. Renaming or deleting a test without fixing the
//! document fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Every `fn <name>` in the workspace.
fn function_names(root: &Path) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (i, _) in text.match_indices("fn ") {
            let rest = &text[i + 3..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
        // A test list (`multi_thread_tests!`) names each test at the start of a line:
        // `name => body(...);`.
        for line in text.lines() {
            if let Some((name, _)) = line.trim_start().split_once(" => ")
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// The test names SECURITY.md cites.
fn cited_tests(doc: &str) -> BTreeSet<String> {
    let mut cited = BTreeSet::new();
    for (i, chunk) in doc.split('`').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let last = chunk.rsplit("::").next().unwrap_or(chunk);
        let is_name = last.split('_').count() >= 3
            && last
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && last.starts_with(|c: char| c.is_ascii_lowercase());
        if is_name {
            cited.insert(last.to_owned());
        }
    }
    cited
}

#[test]
fn every_test_security_md_names_exists() {
    let root = workspace_root();
    let doc = std::fs::read_to_string(root.join("SECURITY.md")).expect("SECURITY.md");
    let cited = cited_tests(&doc);
    assert!(
        cited.len() >= 30,
        "SECURITY.md should name its tests; found only {cited:?}"
    );
    let functions = function_names(&root);
    let missing: Vec<&String> = cited.iter().filter(|n| !functions.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "SECURITY.md names tests that do not exist: {missing:?}"
    );
}

#[test]
fn a_made_up_name_would_be_caught() {
    let cited = cited_tests("proof: `crate::src/x.rs::no_such_test_anywhere` and `plain`");
    assert_eq!(
        cited.into_iter().collect::<Vec<_>>(),
        ["no_such_test_anywhere"]
    );
    assert!(!function_names(&workspace_root()).contains("no_such_test_anywhere"));
}
