//! Build: embeds the rule catalogue (`rules/**/*.toml`) into the binary, so `lapse` judges with
//! its built-in rules from any working directory. The loader reads the generated table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let rules_dir = root.join("rules");
    // A directory makes cargo rescan every file beneath it for changes.
    println!("cargo:rerun-if-changed=rules");
    let mut files = Vec::new();
    if rules_dir.is_dir() {
        collect(&rules_dir, &mut files)?;
    }
    // Sorted so the embedded order, and thus every listing, is the same on every machine.
    files.sort();
    let mut code = String::from("pub static BUILTIN_RULES: &[(&str, &str)] = &[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&root)?
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            code,
            "    ({relative:?}, include_str!({:?})),",
            file.display().to_string()
        )?;
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("builtin_rules.rs");
    std::fs::write(out, code)?;
    Ok(())
}
