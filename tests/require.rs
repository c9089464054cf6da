//! `REPLICA_LAB_REQUIRE` turns a test's skip into a failure: how the variable is read and
//! what a test is told to do, from explicit values rather than this process's environment.

mod support;

use support::need::{Need, Required, Unmet, decide};

fn parse(value: &str) -> Required {
    Required::parse(Some(value)).unwrap_or_else(|e| panic!("{value:?}: {e}"))
}

fn needs(value: &str) -> Vec<Need> {
    parse(value).needs().collect()
}

#[test]
fn unset_or_empty_requires_nothing() {
    assert_eq!(Required::parse(None), Ok(Required::default()));
    for value in ["", " ", ",", " , ,"] {
        assert_eq!(needs(value), [], "{value:?}");
    }
}

#[test]
fn names_are_comma_separated_spaced_and_case_insensitive() {
    assert_eq!(needs("docker,haproxy"), [Need::Docker, Need::Haproxy]);
    assert_eq!(
        needs(" Postgres , HAPROXY,,docker "),
        [Need::Docker, Need::Haproxy, Need::Postgres]
    );
    assert_eq!(needs("compose,compose"), [Need::Compose]);
    assert_eq!(needs("root"), [Need::Root]);
    assert_eq!(needs("unprivileged"), [Need::Unprivileged]);
    let r = parse("docker,postgres");
    assert!(r.includes(Need::Docker) && r.includes(Need::Postgres));
    assert!(!r.includes(Need::Haproxy) && !r.includes(Need::Compose));
}

#[test]
fn all_is_every_installable_need_and_no_account() {
    assert_eq!(needs("all"), Need::INSTALLABLE);
    assert_eq!(
        needs("ALL, root"),
        [
            Need::Docker,
            Need::Compose,
            Need::Haproxy,
            Need::Postgres,
            Need::Root
        ]
    );
    // Every name parses to its need.
    for need in Need::ALL {
        assert_eq!(needs(need.name()), [need]);
    }
}

#[test]
fn an_unknown_name_is_an_error_naming_it_and_the_known_ones() {
    let err = Required::parse(Some("docker,dokcer")).expect_err("a typo");
    assert_eq!(
        err,
        "REPLICA_LAB_REQUIRE=docker,dokcer: unknown need \"dokcer\" (known: docker, compose, \
         haproxy, postgres, root, unprivileged, or all)"
    );
    assert!(Required::parse(Some("docker;haproxy")).is_err());
}

#[test]
fn root_and_unprivileged_exclude_each_other() {
    let err = Required::parse(Some("root, unprivileged")).expect_err("both accounts");
    assert_eq!(
        err,
        "REPLICA_LAB_REQUIRE=root, unprivileged: root and unprivileged exclude each other"
    );
}

#[test]
fn an_unmet_need_skips_unless_required() {
    let why = "no Docker engine answers";
    assert_eq!(
        decide(Need::Docker, "t", why, &parse("haproxy,postgres")),
        Unmet::Skip(format!("SKIPPED t: {why}; {}", Need::Docker.fix()))
    );
    assert_eq!(
        decide(Need::Docker, "t", why, &Required::default()),
        Unmet::Skip(format!("SKIPPED t: {why}; {}", Need::Docker.fix()))
    );
    for value in ["docker", "all", "haproxy, Docker"] {
        assert_eq!(
            decide(Need::Docker, "t", why, &parse(value)),
            Unmet::Fail(format!(
                "t needs docker, which REPLICA_LAB_REQUIRE={value} requires, but {why}; {}",
                Need::Docker.fix()
            )),
            "{value:?}"
        );
    }
}

#[test]
fn every_fix_says_how() {
    for need in Need::ALL {
        assert!(!need.fix().is_empty(), "{need}");
    }
    assert!(Need::Docker.fix().contains("docker/build-images.sh"));
    assert!(Need::Haproxy.fix().contains("scripts/install-deps"));
    assert!(Need::Postgres.fix().contains("scripts/install-deps"));
}

#[test]
fn a_met_need_runs_whatever_is_required() {
    assert_eq!(
        support::require_with(Need::Haproxy, "t", Ok::<_, String>(7)),
        Some(7)
    );
}
