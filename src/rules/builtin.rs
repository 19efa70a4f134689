//! The built-in rule catalogue (`rules/**/*.toml`), embedded so `lapse` judges with its
//! rules from any working directory. Listed by hand, with paths relative to this file, so the
//! compiler tracks each file in whichever checkout it builds; a test checks that every file
//! under `rules/` is listed, and nothing else.

pub static BUILTIN_RULES: &[(&str, &str)] = &[
    (
        "rules/expired-grant/AWS-016.toml",
        include_str!("../../rules/expired-grant/AWS-016.toml"),
    ),
    (
        "rules/expired-grant/AZ-002.toml",
        include_str!("../../rules/expired-grant/AZ-002.toml"),
    ),
    (
        "rules/expired-grant/AZ-008.toml",
        include_str!("../../rules/expired-grant/AZ-008.toml"),
    ),
    (
        "rules/expired-grant/GH-004.toml",
        include_str!("../../rules/expired-grant/GH-004.toml"),
    ),
    (
        "rules/missing-ttl/AWS-014.toml",
        include_str!("../../rules/missing-ttl/AWS-014.toml"),
    ),
    (
        "rules/missing-ttl/AWS-015.toml",
        include_str!("../../rules/missing-ttl/AWS-015.toml"),
    ),
    (
        "rules/missing-ttl/AWS-017.toml",
        include_str!("../../rules/missing-ttl/AWS-017.toml"),
    ),
    (
        "rules/missing-ttl/AZ-001.toml",
        include_str!("../../rules/missing-ttl/AZ-001.toml"),
    ),
    (
        "rules/missing-ttl/AZ-009.toml",
        include_str!("../../rules/missing-ttl/AZ-009.toml"),
    ),
    (
        "rules/missing-ttl/GH-005.toml",
        include_str!("../../rules/missing-ttl/GH-005.toml"),
    ),
    (
        "rules/missing-ttl/GH-008.toml",
        include_str!("../../rules/missing-ttl/GH-008.toml"),
    ),
    (
        "rules/missing-ttl/GH-011.toml",
        include_str!("../../rules/missing-ttl/GH-011.toml"),
    ),
    (
        "rules/missing-ttl/REPO-011.toml",
        include_str!("../../rules/missing-ttl/REPO-011.toml"),
    ),
    (
        "rules/over-scope/AWS-008.toml",
        include_str!("../../rules/over-scope/AWS-008.toml"),
    ),
    (
        "rules/over-scope/AWS-009.toml",
        include_str!("../../rules/over-scope/AWS-009.toml"),
    ),
    (
        "rules/over-scope/AWS-010.toml",
        include_str!("../../rules/over-scope/AWS-010.toml"),
    ),
    (
        "rules/over-scope/AWS-011.toml",
        include_str!("../../rules/over-scope/AWS-011.toml"),
    ),
    (
        "rules/over-scope/AWS-012.toml",
        include_str!("../../rules/over-scope/AWS-012.toml"),
    ),
    (
        "rules/over-scope/AWS-013.toml",
        include_str!("../../rules/over-scope/AWS-013.toml"),
    ),
    (
        "rules/over-scope/AZ-006.toml",
        include_str!("../../rules/over-scope/AZ-006.toml"),
    ),
    (
        "rules/over-scope/GH-002.toml",
        include_str!("../../rules/over-scope/GH-002.toml"),
    ),
    (
        "rules/over-scope/GH-007.toml",
        include_str!("../../rules/over-scope/GH-007.toml"),
    ),
    (
        "rules/over-scope/GH-009.toml",
        include_str!("../../rules/over-scope/GH-009.toml"),
    ),
    (
        "rules/over-scope/GH-010.toml",
        include_str!("../../rules/over-scope/GH-010.toml"),
    ),
    (
        "rules/over-scope/REPO-001.toml",
        include_str!("../../rules/over-scope/REPO-001.toml"),
    ),
    (
        "rules/over-scope/REPO-002.toml",
        include_str!("../../rules/over-scope/REPO-002.toml"),
    ),
    (
        "rules/over-scope/REPO-004.toml",
        include_str!("../../rules/over-scope/REPO-004.toml"),
    ),
    (
        "rules/over-scope/REPO-005.toml",
        include_str!("../../rules/over-scope/REPO-005.toml"),
    ),
    (
        "rules/over-scope/REPO-008.toml",
        include_str!("../../rules/over-scope/REPO-008.toml"),
    ),
    (
        "rules/over-scope/REPO-009.toml",
        include_str!("../../rules/over-scope/REPO-009.toml"),
    ),
    (
        "rules/over-scope/REPO-010.toml",
        include_str!("../../rules/over-scope/REPO-010.toml"),
    ),
    (
        "rules/over-scope/REPO-013.toml",
        include_str!("../../rules/over-scope/REPO-013.toml"),
    ),
    (
        "rules/over-scope/REPO-014.toml",
        include_str!("../../rules/over-scope/REPO-014.toml"),
    ),
    (
        "rules/standing-privilege/AWS-007.toml",
        include_str!("../../rules/standing-privilege/AWS-007.toml"),
    ),
    (
        "rules/standing-privilege/AZ-005.toml",
        include_str!("../../rules/standing-privilege/AZ-005.toml"),
    ),
    (
        "rules/static-credential/AWS-006.toml",
        include_str!("../../rules/static-credential/AWS-006.toml"),
    ),
    (
        "rules/static-credential/REPO-003.toml",
        include_str!("../../rules/static-credential/REPO-003.toml"),
    ),
    (
        "rules/static-credential/REPO-006.toml",
        include_str!("../../rules/static-credential/REPO-006.toml"),
    ),
    (
        "rules/static-credential/REPO-007.toml",
        include_str!("../../rules/static-credential/REPO-007.toml"),
    ),
    (
        "rules/static-credential/REPO-012.toml",
        include_str!("../../rules/static-credential/REPO-012.toml"),
    ),
    (
        "rules/unrotated/AWS-001.toml",
        include_str!("../../rules/unrotated/AWS-001.toml"),
    ),
    (
        "rules/unrotated/AWS-004.toml",
        include_str!("../../rules/unrotated/AWS-004.toml"),
    ),
    (
        "rules/unrotated/AZ-003.toml",
        include_str!("../../rules/unrotated/AZ-003.toml"),
    ),
    (
        "rules/unrotated/AZ-004.toml",
        include_str!("../../rules/unrotated/AZ-004.toml"),
    ),
    (
        "rules/unrotated/GH-001.toml",
        include_str!("../../rules/unrotated/GH-001.toml"),
    ),
    (
        "rules/unused/AWS-002.toml",
        include_str!("../../rules/unused/AWS-002.toml"),
    ),
    (
        "rules/unused/AWS-003.toml",
        include_str!("../../rules/unused/AWS-003.toml"),
    ),
    (
        "rules/unused/AWS-005.toml",
        include_str!("../../rules/unused/AWS-005.toml"),
    ),
    (
        "rules/unused/AZ-007.toml",
        include_str!("../../rules/unused/AZ-007.toml"),
    ),
    (
        "rules/unused/GH-003.toml",
        include_str!("../../rules/unused/GH-003.toml"),
    ),
    (
        "rules/unused/GH-006.toml",
        include_str!("../../rules/unused/GH-006.toml"),
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_rule_file_is_embedded() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else if path.extension().is_some_and(|e| e == "toml") {
                    let relative = path.strip_prefix(root).unwrap().to_string_lossy();
                    out.push(relative.replace('\\', "/"));
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = Vec::new();
        walk(&root.join("rules"), root, &mut on_disk);
        on_disk.sort();
        let embedded: Vec<&str> = super::BUILTIN_RULES.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            embedded, on_disk,
            "list every file of rules/ in src/rules/builtin.rs, sorted"
        );
    }
}
