//! What the reference tests share: where the model files are, and the fixtures' line format.

use std::path::{Path, PathBuf};

/// The models directory, as `plexus_exec::builtin::models_dir` finds it (this crate cannot
/// depend on plexus-exec, a host crate): `$PLEXUS_MODELS`, else `models` under `$PLEXUS_HOME`,
/// else `~/.plexus/models`.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLEXUS_MODELS") {
        return PathBuf::from(dir);
    }
    if let Some(home) = std::env::var_os("PLEXUS_HOME") {
        return Path::new(&home).join("models");
    }
    let home = std::env::var_os("HOME").expect("HOME, PLEXUS_HOME or PLEXUS_MODELS is set");
    Path::new(&home).join(".plexus").join("models")
}

/// The bytes of the model file `name` under [`models_dir`]; without it, fails saying how to get
/// it.
pub fn model_file(name: &str) -> Vec<u8> {
    let path = models_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): run `cargo xtask models` first",
            path.display()
        )
    })
}

/// The cases of the fixture `tests/{path}`: lines of a JSON string, a tab, the expected ids
/// separated by spaces (none for an empty encoding).
pub fn fixture(path: &str) -> Vec<(String, Vec<u32>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(path);
    let lines = std::fs::read_to_string(&path).expect("the fixture is readable");
    lines
        .lines()
        .map(|line| {
            let (text, ids) = line.split_once('\t').expect("a tab separates text and ids");
            let text: String = serde_json::from_str(text).expect("the text is a JSON string");
            let ids = ids
                .split(' ')
                .filter(|id| !id.is_empty())
                .map(|id| id.parse().expect("ids are numbers"))
                .collect();
            (text, ids)
        })
        .collect()
}
