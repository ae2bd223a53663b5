//! The layer map of docs/DESIGN.md holds: every `crate::` path in the
//! library's sources names a module on a lower layer than its own (or its
//! own module). A lower layer that reaches up, or two modules of one layer
//! that use each other, fail here with the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Module name → layer, from the table between the markers in DESIGN.md.
fn layers() -> BTreeMap<String, u32> {
    let design = std::fs::read_to_string(Path::new(ROOT).join("docs/DESIGN.md")).unwrap();
    let start = design
        .find("<!-- layers: lowest first -->")
        .expect("docs/DESIGN.md has the layer table");
    let end = design[start..]
        .find("<!-- end of layers -->")
        .expect("the layer table ends")
        + start;
    let mut layers = BTreeMap::new();
    for row in design[start..end].lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Ok(layer) = cells[1].parse::<u32>() else {
            continue; // the header
        };
        for module in cells[2].split(',') {
            let module = module.trim().trim_matches('`');
            assert!(
                layers.insert(module.to_string(), layer).is_none(),
                "{module} is on two layers"
            );
        }
    }
    assert!(layers.len() > 5, "the table was read: {layers:?}");
    layers
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::NAME` paths of one line of code (comments skipped).
fn crate_paths(line: &str) -> Vec<&str> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return Vec::new();
    }
    let code = code.split(" //").next().unwrap_or(code);
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // `crate::` itself, not the tail of another path (`$crate::`).
            *at == 0
                || !code.as_bytes()[at - 1].is_ascii_alphanumeric()
                    && code.as_bytes()[at - 1] != b'$'
        })
        .map(|(at, _)| {
            let rest = &code[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn no_module_uses_a_module_on_its_own_or_a_higher_layer() {
    let layers = layers();
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut crossings = Vec::new();
    let mut checked = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        if first == "bin" || first == "lib.rs" {
            continue;
        }
        let module = first.trim_end_matches(".rs");
        let Some(&own) = layers.get(module) else {
            panic!("src/{} is in no layer of docs/DESIGN.md", rel.display());
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for used in crate_paths(line) {
                checked += 1;
                if used == module {
                    continue;
                }
                match layers.get(used) {
                    Some(&layer) if layer < own => {}
                    Some(&layer) => crossings.push(format!(
                        "src/{}:{}: {module} (layer {own}) uses {used} (layer {layer})",
                        rel.display(),
                        number + 1
                    )),
                    None => crossings.push(format!(
                        "src/{}:{}: uses crate::{used}, which is in no layer (name the \
                         module, not the root's re-export)",
                        rel.display(),
                        number + 1
                    )),
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} crate:: paths found");
    assert!(crossings.is_empty(), "{}", crossings.join("\n"));
}

#[test]
fn the_path_reader_finds_what_it_must() {
    assert_eq!(crate_paths("use crate::disk::{A, B};"), ["disk"]);
    assert_eq!(
        crate_paths("    let x = crate::entry::Context::empty();"),
        ["entry"]
    );
    assert!(crate_paths("//! see [`X`](crate::disk::X)").is_empty());
    assert!(crate_paths("$crate::entry::x").is_empty());
}
