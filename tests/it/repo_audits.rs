//! Repository scan, workflow audits about machine credentials: each way a privileged run can
//! bring in the pull request's code, persisted checkout tokens, GitHub App token scoping and
//! registry publishing, end to end from workflow text to findings with their lines.

use super::repo_workflows::{checkout_with, lines_of, scan};

const W: &str = ".github/workflows/w.yml";

fn rule_lines(text: &str, rule: &str) -> Vec<u32> {
    let dir = checkout_with(&[(W, text)]);
    let (inventory, findings) = scan(dir.path());
    assert!(
        inventory.coverage_gaps.is_empty(),
        "{:?}",
        inventory.coverage_gaps
    );
    lines_of(&findings, rule)
}

#[test]
fn privileged_runs_of_pull_request_code_fire_in_every_form() {
    let checkout_head = "on: pull_request_target\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n        with: {ref: \"${{ github.head_ref }}\", persist-credentials: false}\n";
    assert_eq!(rule_lines(checkout_head, "REPO-008"), vec![7]);
    let refs_pull = "on: pull_request_target\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          ref: refs/pull/${{ github.event.number }}/merge\n";
    assert_eq!(rule_lines(refs_pull, "REPO-008"), vec![7]);
    let gh = "on: pull_request_target\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: gh pr checkout ${{ github.event.number }}\n";
    assert_eq!(rule_lines(gh, "REPO-008"), vec![7]);
    let run_head = "on: {workflow_run: {workflows: [ci], types: [completed]}}\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: git fetch origin ${{ github.event.workflow_run.head_sha }} && make\n";
    assert_eq!(rule_lines(run_head, "REPO-008"), vec![7]);
    let artifact = "on: {workflow_run: {workflows: [ci], types: [completed]}}\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/download-artifact@v4\n        with:\n          run-id: ${{ github.event.workflow_run.id }}\n          github-token: ${{ github.token }}\n      - run: ./dist/install.sh\n";
    assert_eq!(rule_lines(artifact, "REPO-008"), vec![7]);
}

#[test]
fn the_same_steps_under_an_unprivileged_trigger_or_without_the_head_do_not_fire() {
    let pull_request = "on: pull_request\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n        with: {ref: \"${{ github.head_ref }}\"}\n";
    assert!(rule_lines(pull_request, "REPO-008").is_empty());
    let base = "on: pull_request_target\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n        with: {persist-credentials: false}\n      - run: echo ${{ github.event.pull_request.title == '' }}\n";
    assert!(rule_lines(base, "REPO-008").is_empty());
    let artifact_only = "on: {workflow_run: {workflows: [ci], types: [completed]}}\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/download-artifact@v4\n        with:\n          run-id: ${{ github.event.workflow_run.id }}\n      - uses: actions/github-script@v7\n";
    assert!(rule_lines(artifact_only, "REPO-008").is_empty());
}

#[test]
fn persisted_checkout_tokens_fire_with_untrusted_code_too() {
    let untrusted = "on: pull_request_target\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n        with: {ref: \"${{ github.event.pull_request.head.sha }}\"}\n";
    assert_eq!(rule_lines(untrusted, "REPO-009"), vec![7]);
    let plain = "on: push\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n      - run: make\n";
    assert!(rule_lines(plain, "REPO-009").is_empty());
}

#[test]
fn app_tokens_and_publishing() {
    let all_perms = "on: push\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/create-github-app-token@v2\n        with: {app-id: \"1\", private-key: \"${{ secrets.K }}\"}\n";
    assert_eq!(rule_lines(all_perms, "REPO-010"), vec![7]);
    let npm = "on: push\npermissions: {}\nenv:\n  NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: npm publish --provenance\n";
    assert_eq!(rule_lines(npm, "REPO-012"), vec![9]);
    let cargo = "on: push\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: cargo publish --token ${{ secrets.CRATES_IO }}\n";
    assert_eq!(rule_lines(cargo, "REPO-012"), vec![7]);
    let gem = "on: push\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    env: {GEM_HOST_API_KEY: \"${{ secrets.RUBYGEMS }}\"}\n    steps:\n      - run: gem push *.gem\n";
    assert_eq!(rule_lines(gem, "REPO-012"), vec![8]);
    let pypi_action = "on: push\npermissions: {}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: pypa/gh-action-pypi-publish@release/v1\n        with: {password: \"${{ secrets.PYPI }}\"}\n";
    assert_eq!(rule_lines(pypi_action, "REPO-012"), vec![7]);
    let oidc = "on: push\npermissions: {id-token: write}\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: npm publish --provenance\n";
    assert!(rule_lines(oidc, "REPO-012").is_empty());
}

#[test]
fn workflow_level_scopes() {
    let write = "on: push\npermissions: {contents: write}\njobs:\n  t: {runs-on: x, steps: [{run: make}]}\n";
    assert_eq!(rule_lines(write, "REPO-013"), vec![2]);
    let read_all =
        "on: push\npermissions: read-all\njobs:\n  t: {runs-on: x, steps: [{run: make}]}\n";
    assert_eq!(rule_lines(read_all, "REPO-014"), vec![2]);
    assert!(rule_lines(read_all, "REPO-013").is_empty());
}
