//! The GitHub Action, run locally: its install step (scripts/action/install.sh) against a fake
//! release folder served through `LAPSE_RELEASE_BASE_URL=file://…`, then its scan step
//! (scripts/action/scan.sh) with the binary it installed. In the test that runs the scan step the
//! "release asset" is the lapse binary these tests run, so what gets verified and executed is a
//! real lapse; the others use a small stand-in asset (the debug binary is ~300 MB to copy).
//!
//! The build-from-checkout case puts a stand-in `cargo` first on PATH: it records its arguments
//! and drops the already-built binary where `cargo build --release` would. The script's real path
//! has no test switch at all; the stand-in checks that it asks for a `--locked` release build of
//! the action's own checkout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TAG: &str = "v9.8.7";
/// What RUNNER_OS/RUNNER_ARCH below map to.
const ASSET: &str = "lapse-x86_64-unknown-linux-musl";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/action")
        .join(name)
}

fn lapse_binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("lapse")
}

/// SHA-256 of a file, by the same tool the install script uses.
fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// An action checkout with release/<TAG>.sha256 recording `recorded` for ASSET, and a release
/// folder holding `binary` as ASSET (unless `with_asset` is false).
struct Setup {
    dir: tempfile::TempDir,
    binary: PathBuf,
}

/// A small executable standing in for lapse where only the install logic is under test.
fn stand_in(dir: &Path) -> PathBuf {
    let path = dir.join("stand-in-lapse");
    std::fs::write(&path, "#!/bin/sh\necho lapse 0.0.0-stand-in\n").unwrap();
    path
}

impl Setup {
    /// With the stand-in asset; `recorded(&asset)` gives the committed checksum.
    fn new(recorded: impl Fn(&Path) -> Option<String>, with_asset: bool) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let binary = stand_in(dir.path());
        Self::with_binary(dir, binary, recorded, with_asset)
    }

    fn with_binary(
        dir: tempfile::TempDir,
        binary: PathBuf,
        recorded: impl Fn(&Path) -> Option<String>,
        with_asset: bool,
    ) -> Setup {
        let action = dir.path().join("action");
        std::fs::create_dir_all(action.join("release")).unwrap();
        std::fs::write(action.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        if let Some(sum) = recorded(&binary) {
            std::fs::write(
                action.join("release").join(format!("{TAG}.sha256")),
                format!(
                    "# from {TAG}-rc.1\n{sum}  {ASSET}\n{}  lapse-aarch64-apple-darwin\n",
                    "0".repeat(64)
                ),
            )
            .unwrap();
        }
        let release = dir.path().join("releases").join(TAG);
        std::fs::create_dir_all(&release).unwrap();
        if with_asset {
            std::fs::copy(&binary, release.join(ASSET)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("runner-temp")).unwrap();
        Setup { dir, binary }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A `cargo` that builds nothing: it logs its arguments and copies the real binary to
    /// where a release build of CARGO_TARGET_DIR would leave it.
    fn fake_cargo(&self) -> PathBuf {
        let bin = self.path("fake-bin");
        std::fs::create_dir_all(&bin).unwrap();
        let cargo = bin.join("cargo");
        std::fs::write(
            &cargo,
            format!(
                "#!/usr/bin/env bash\nset -e\necho \"$@\" >> \"{log}\"\nmkdir -p \"$CARGO_TARGET_DIR/release\"\ncp \"{real}\" \"$CARGO_TARGET_DIR/release/lapse\"\n",
                log = self.path("cargo.log").display(),
                real = self.binary.display(),
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    fn install(&self, action_ref: &str) -> Output {
        let path = format!(
            "{}:{}",
            self.fake_cargo().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("bash")
            .arg(script("install.sh"))
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("GITHUB_ACTION_PATH", self.path("action"))
            .env("LAPSE_ACTION_REF", action_ref)
            .env("LAPSE_ACTION_REPOSITORY", "example/lapse")
            .env(
                "LAPSE_RELEASE_BASE_URL",
                format!("file://{}", self.path("releases").display()),
            )
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TEMP", self.path("runner-temp"))
            .env("GITHUB_OUTPUT", self.path("github-output"))
            .output()
            .unwrap()
    }

    fn cargo_log(&self) -> String {
        std::fs::read_to_string(self.path("cargo.log")).unwrap_or_default()
    }

    fn github_output(&self) -> String {
        std::fs::read_to_string(self.path("github-output")).unwrap_or_default()
    }
}

fn installed_path(output: &Output) -> PathBuf {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "install failed: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = PathBuf::from(stdout.trim());
    assert!(path.is_absolute(), "{stdout:?}");
    path
}

fn sum(path: &Path) -> Option<String> {
    Some(sha256_of(path))
}

#[test]
fn release_tag_with_matching_committed_checksum_installs_the_release_binary() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::with_binary(dir, lapse_binary(), sum, true);
    let output = setup.install(TAG);
    let installed = installed_path(&output);
    assert_eq!(installed, setup.path("runner-temp/lapse-bin/lapse"));
    assert_eq!(sha256_of(&installed), sha256_of(&lapse_binary()));
    assert_eq!(setup.cargo_log(), "", "nothing built");
    assert!(
        setup
            .github_output()
            .contains(&format!("path={}", installed.display()))
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("matches release/v9.8.7.sha256"));

    // The scan step with what was installed, on a clean checkout: exit code 0 and a summary.
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("README.md"), "nothing to see\n").unwrap();
    let scan = Command::new("bash")
        .arg(script("scan.sh"))
        .current_dir(repo.path())
        .env("LAPSE_BIN", &installed)
        .env("LAPSE_ARGS", "--repo .")
        .env("LAPSE_FAIL_ON", "high")
        .env("LAPSE_BASELINE", "")
        .env("LAPSE_OUT", "reports")
        .env("GITHUB_OUTPUT", setup.path("scan-output"))
        .env("GITHUB_STEP_SUMMARY", setup.path("summary.md"))
        .output()
        .unwrap();
    assert!(
        scan.status.success(),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let outputs = std::fs::read_to_string(setup.path("scan-output")).unwrap();
    assert_eq!(outputs.trim(), "exit-code=0");
    assert!(repo.path().join("reports/lapse-report.sarif").is_file());
    assert!(
        std::fs::read_to_string(setup.path("summary.md"))
            .unwrap()
            .contains("lapse")
    );
}

#[test]
fn moving_major_tag_of_the_recorded_release_installs_it_too() {
    let setup = Setup::new(sum, true);
    installed_path(&setup.install("v9"));
    assert_eq!(setup.cargo_log(), "");
}

#[test]
fn tampered_release_asset_is_refused_without_fallback() {
    let setup = Setup::new(|_| Some("ab".repeat(32)), true);
    let output = setup.install(TAG);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing lapse-x86_64-unknown-linux-musl"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&"ab".repeat(32)),
        "names the committed sum: {stderr}"
    );
    assert!(!setup.path("runner-temp/lapse-bin/lapse").exists());
    assert_eq!(
        setup.cargo_log(),
        "",
        "a refused release is not papered over by a build"
    );
}

#[test]
fn missing_release_asset_builds_from_the_action_checkout() {
    let setup = Setup::new(sum, false);
    let installed = installed_path(&setup.install(TAG));
    let log = setup.cargo_log();
    let manifest = setup
        .path("action")
        .canonicalize()
        .unwrap()
        .join("Cargo.toml");
    assert_eq!(
        log.trim(),
        format!(
            "build --release --locked --no-default-features --bin lapse --manifest-path {}",
            manifest.display()
        )
    );
    assert_eq!(sha256_of(&installed), sha256_of(&setup.binary));
}

#[test]
fn commit_sha_branch_or_unrecorded_ref_builds_from_the_checkout() {
    for action_ref in [
        "0123456789abcdef0123456789abcdef01234567",
        "main",
        "v9.8",
        "",
    ] {
        let setup = Setup::new(sum, true);
        let expected_build = action_ref != "v9.8";
        installed_path(&setup.install(action_ref));
        assert_eq!(
            setup.cargo_log().starts_with("build --release --locked"),
            expected_build,
            "ref {action_ref:?}"
        );
    }
    // No release recorded at all (a commit between releases).
    let setup = Setup::new(|_| None, true);
    installed_path(&setup.install(TAG));
    assert!(setup.cargo_log().starts_with("build --release --locked"));
}
