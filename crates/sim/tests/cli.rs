//! `plexus-sim`'s command line, run as a user runs it: `--help` prints help and runs nothing,
//! and arguments it cannot use are refused with a clear error before any run starts.

use std::process::{Command, Output};

fn plexus_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plexus-sim"))
        .args(args)
        .output()
        .expect("plexus-sim starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The regression: `--help` printed a usage line and then ran every scenario for five seeds.
#[test]
fn help_prints_usage_and_every_scenario_and_runs_nothing() {
    let output = plexus_sim(&["--help"]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("Usage: plexus-sim"), "{stdout}");
    for scenario in plexus_sim::SCENARIOS {
        assert!(
            stdout.contains(scenario.name()),
            "{} in {stdout}",
            scenario.name()
        );
    }
    for flag in [
        "--scenario",
        "--seeds",
        "--seed",
        "--from",
        "--json",
        "adversarial",
    ] {
        assert!(stdout.contains(flag), "{flag} in {stdout}");
    }
    // A run prints `ok    NAME ...` per scenario and a summary on stderr.
    assert!(
        !stdout.contains("ok    "),
        "--help ran a scenario: {stdout}"
    );
    assert!(!stderr.contains(" runs, "), "--help ran a sweep: {stderr}");
}

#[test]
fn arguments_it_cannot_use_are_refused_before_any_run() {
    for (args, expected) in [
        (&["--scenario", "no_such_scenario"][..], "possible values"),
        (&["--seed", "1", "--seeds", "2"][..], "cannot be used with"),
        (&["--seeds", "many"][..], "invalid value"),
        (&["--frobnicate"][..], "unexpected argument"),
        (&["adversarial", "--seeds", "2"][..], "unexpected argument"),
    ] {
        let output = plexus_sim(args);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(!output.status.success(), "{args:?} was accepted: {stdout}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stdout.contains("ok    "),
            "{args:?} ran a scenario: {stdout}"
        );
    }
}

#[test]
fn adversarial_help_describes_its_own_flags() {
    let output = plexus_sim(&["adversarial", "--help"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success());
    for flag in ["--seed", "--jobs", "--json"] {
        assert!(stdout.contains(flag), "{flag} in {stdout}");
    }
}

/// `--scenario fueltrace` runs only that scenario (its seed, then the same seed again for the
/// state root) and closes with the line the issue asks for.
#[test]
fn fueltrace_runs_alone_and_closes_with_its_tally() {
    let output = plexus_sim(&["--scenario", "fueltrace", "--seed", "2"]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout.matches("ok    fueltrace").count(), 1, "{stdout}");
    let closing = stdout.lines().last().unwrap_or_default();
    assert!(closing.starts_with("fueltrace: 1 seeds, "), "{closing}");
    for part in [
        "refuted and slashed",
        "unaudited",
        "0 honest parties slashed",
        "supply conserved",
    ] {
        assert!(closing.contains(part), "{part} in {closing}");
    }
    assert!(
        !stderr.contains(" runs, "),
        "a network scenario ran: {stderr}"
    );
}
