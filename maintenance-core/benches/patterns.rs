//! The cost of matching a path against the costliest pattern sets the checks accept, on the
//! longest path patterns see ([`validate::MAX_MATCHED_PATH_LEN`]), and against an ordinary set
//! for comparison. Each set is the most of its kind that `validate::pattern_set` takes (each
//! pattern valid alone, the whole set within the size limit), found by adding patterns until
//! the next is refused. The paths mix the characters that keep those patterns' automata
//! growing. Every case runs on a warm set (compiled by the first match).
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use maintenance_core::{pattern::PatternSet, validate};

/// As many patterns made by `pattern(i)` as the set's limits accept.
fn largest_accepted(pattern: impl Fn(usize) -> String) -> Vec<String> {
    let mut accepted: Vec<String> = Vec::new();
    for i in 0..500 {
        let next = pattern(i);
        if validate::pattern(&next).is_err() {
            break;
        }
        accepted.push(next);
        if validate::pattern_set(accepted.iter().map(String::as_str)).is_err() {
            accepted.pop();
            break;
        }
    }
    accepted
}

/// A path of `len` bytes drawn from `alphabet` by a fixed pseudo-random sequence.
fn path(alphabet: &[char], len: usize) -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = String::new();
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let c = alphabet[(x % alphabet.len() as u64) as usize];
        if out.len() + c.len_utf8() > len {
            break;
        }
        out.push(c);
    }
    out
}

/// A kind of pattern set: its name and the `i`th pattern.
type Family = (&'static str, fn(usize) -> String);

fn bench(c: &mut Criterion) {
    let longest = validate::MAX_MATCHED_PATH_LEN;
    let families: [Family; 7] = [
        ("dfa_blowup", |i| format!(".*a.{{80}}x{i}")),
        ("nested_blowup", |i| format!("(?:.*a.{{10}}){{8}}x{i}")),
        ("long_dfa_blowup", |i| format!(".*a.{{250}}x{i}")),
        ("star_repeat", |i| format!("(?:.*){{300}}x{i}")),
        ("unicode_words", |i| format!(r"\w{{3}}.*\w{{3}}a.{{50}}{i}")),
        ("unicode_ordinary", |i| format!(r"^api/\w+/items{i}/\d+$")),
        ("ordinary", |i| format!("^section{i}/(page|item)/[0-9]+/$")),
    ];
    let mut group = c.benchmark_group("pattern_cost");
    for (name, family) in families {
        let patterns = largest_accepted(family);
        let set = PatternSet::compile_strict(patterns.iter().map(String::as_str))
            .expect("every pattern was accepted");
        let hay = path(&['a', 'b', '/', 'x', 'é'], longest);
        let _ = set.matches_prepared(&hay);
        eprintln!(
            "{name}: {} patterns, answer on the longest path: {:?}",
            patterns.len(),
            set.matches_prepared(&hay)
        );
        group.bench_function(format!("{name}_{}x_{longest}B", patterns.len()), |b| {
            b.iter(|| black_box(set.matches_prepared(black_box(&hay))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
