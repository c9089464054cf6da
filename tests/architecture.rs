//! The crate's layout holds by test, not by goodwill: every module under `src/` imports only
//! the layers `src/lib.rs` lists before it, nothing but `main` imports the front-ends (`cli`,
//! `tui`), and no source file grows past the size a reader can hold in their head.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The two front-ends: only `main` may name them.
const FRONT_ENDS: [&str; 2] = ["cli", "tui"];
/// A file past this many lines is split along a seam.
const MAX_LINES: usize = 600;

/// The layers in `src/lib.rs`'s order, from the bottom.
fn layers(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The source with comments removed, so prose that mentions a path is not an import.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file names through `crate::…`, including `use crate::{a, b}`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            refs.extend(group_heads(group));
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                refs.insert(name);
            }
        }
    }
    refs
}

/// The first segment of each item in a `{…}` group (`group` starts after its `{`): in
/// `{error::Error, lifecycle::{Cluster, open}, settings}` that is error, lifecycle, settings.
fn group_heads(group: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut depth = 0usize;
    for c in group.chars() {
        match c {
            '}' if depth == 0 => break,
            ',' if depth == 0 => items.push(String::new()),
            _ => {
                depth = match c {
                    '{' => depth + 1,
                    '}' => depth - 1,
                    _ => depth,
                };
                if let Some(item) = items.last_mut() {
                    item.push(c);
                }
            }
        }
    }
    items
        .iter()
        .map(|i| {
            i.trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// The layer a file belongs to: `src/cluster/haproxy.rs` → `cluster`, `src/error.rs` → `error`.
fn layer_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel
        .components()
        .next()
        .expect("a file")
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_string()
}

/// What breaks the rule in one file of layer `own`, given the layers in order.
fn violations(own: &str, refs: &BTreeSet<String>, order: &[String]) -> Vec<String> {
    let rank = |m: &str| order.iter().position(|l| l == m);
    let Some(own_rank) = rank(own) else {
        return vec![format!("{own} is not listed in src/lib.rs")];
    };
    let mut out = Vec::new();
    for r in refs.iter().filter(|r| r.as_str() != own) {
        match rank(r) {
            _ if FRONT_ENDS.contains(&r.as_str()) => {
                out.push(format!("names the front-end crate::{r}"));
            }
            Some(i) if i > own_rank => out.push(format!("imports crate::{r}, a layer above it")),
            Some(_) => {}
            None => out.push(format!("names crate::{r}, which src/lib.rs does not list")),
        }
    }
    out
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let order = layers(&lib);
    assert!(
        order.len() > 5 && order.first().map(String::as_str) == Some("error"),
        "src/lib.rs lists the layers from the bottom: {order:?}"
    );
    assert_eq!(
        &order[order.len() - 2..],
        FRONT_ENDS,
        "the front-ends come last"
    );
    let mut broken = Vec::new();
    for file in sources(&src) {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if file.parent() == Some(src.as_path()) && (name == "main.rs" || name == "lib.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source file");
        let own = layer_of(&src, &file);
        for v in violations(&own, &crate_refs(&code_only(&text)), &order) {
            broken.push(format!("{}: {v}", file.display()));
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn no_source_file_is_past_the_limit() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long: Vec<String> = sources(&src)
        .into_iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(&f).ok()?.lines().count();
            (n > MAX_LINES).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these along a seam (at most {MAX_LINES} lines):\n{}",
        long.join("\n")
    );
}

/// Only `src/cli/out.rs` prints: its writes end a command quietly when the reader of stdout
/// goes away (`| head`), where `print!` and friends panic. The app owns its terminal.
#[test]
fn only_the_output_module_prints() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let printing: Vec<String> = sources(&src)
        .into_iter()
        .filter(|f| f != &src.join("cli").join("out.rs") && !f.starts_with(src.join("tui")))
        .filter(|f| {
            let code = code_only(&std::fs::read_to_string(f).expect("source file"));
            // `eprint!` and `eprintln!` contain these too.
            code.contains("print!(") || code.contains("println!(")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        printing.is_empty(),
        "write through src/cli/out.rs (outln!, errln!) instead of print!/println!/eprintln! in:\n{}",
        printing.join("\n")
    );
}

#[test]
fn the_checker_sees_what_it_must() {
    let order: Vec<String> = ["error", "settings", "cluster", "runtime", "cli", "tui"]
        .map(String::from)
        .to_vec();
    let code = code_only(
        "use crate::{error::Error, settings};\n\
         // crate::tui in a comment is prose\n\
         let x = crate::runtime::docker::X; my_crate::cli::Y;",
    );
    let refs = crate_refs(&code);
    assert_eq!(
        refs,
        ["error", "runtime", "settings"].map(String::from).into()
    );
    assert_eq!(
        violations("cluster", &refs, &order),
        ["imports crate::runtime, a layer above it"]
    );
    assert!(violations("runtime", &refs, &order).is_empty());
    // Nested groups: every head is seen, none from inside a nested group.
    assert_eq!(
        crate_refs("use crate::{lifecycle::{Cluster, open}, tui, cli::args::{A, B}};"),
        ["cli", "lifecycle", "tui"].map(String::from).into()
    );
    let up = crate_refs("use crate::tui::state::State;");
    assert_eq!(
        violations("runtime", &up, &order),
        ["names the front-end crate::tui"]
    );
    assert!(violations("tui", &up, &order).is_empty());
    assert_eq!(
        violations("cluster", &crate_refs("crate::nowhere::X"), &order),
        ["names crate::nowhere, which src/lib.rs does not list"]
    );
}
