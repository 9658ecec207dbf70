//! Unit tests of the pure state model.

use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("{n:06x}")
    }
}

fn ep(url: &str, key: &str) -> NewEndpoint {
    NewEndpoint {
        name: None,
        url: url.into(),
        key: crate::state::model::Credential::Value(Secret::new(key)),
        auth: AuthStyle::ApiKey,
        weight: 100,
        models: Vec::new(),
        kind: Default::default(),
        chat_path: None,
    }
}

fn config_with(profiles: &[&str]) -> Config {
    let mut c = Config::default();
    for p in profiles {
        c.add_profile(p, None, Strategy::default(), now()).unwrap();
    }
    c
}

#[test]
fn first_profile_becomes_active() {
    let c = config_with(&["work", "home"]);
    assert_eq!(c.active.as_deref(), Some("work"));
    assert_eq!(c.active_profile().unwrap().name, "work");
}

#[test]
fn profile_names_are_validated_and_unique() {
    let mut c = config_with(&["work"]);
    assert_eq!(
        c.add_profile("work", None, Strategy::default(), now()),
        Err(ModelError::DuplicateProfile("work".into()))
    );
    for bad in ["", "-x", ".hidden", "a b", "ümlaut", &"x".repeat(65)] {
        assert!(
            matches!(
                c.add_profile(bad, None, Strategy::default(), now()),
                Err(ModelError::InvalidProfileName(_))
            ),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn urls_are_normalised_and_checked() {
    assert_eq!(
        normalize_url("https://api.example.com/").unwrap(),
        "https://api.example.com"
    );
    assert_eq!(
        normalize_url("http://relay.local:8080/anthropic/").unwrap(),
        "http://relay.local:8080/anthropic"
    );
    for bad in [
        "ftp://x.com",
        "not a url",
        "https://",
        "https://x.com/?a=1",
        "https://u:p@x.com",
    ] {
        assert!(normalize_url(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn weights_are_bounded() {
    assert_eq!(validate_weight(1), Ok(1));
    assert_eq!(validate_weight(1000), Ok(1000));
    assert_eq!(validate_weight(0), Err(ModelError::InvalidWeight(0)));
    assert_eq!(validate_weight(5000), Err(ModelError::InvalidWeight(5000)));
}

#[test]
fn duplicate_url_and_key_is_refused_within_a_profile_only() {
    let mut c = config_with(&["a", "b"]);
    let mut next_id = ids();
    c.add_endpoint("a", ep("https://x.com/", "k1"), &mut next_id)
        .unwrap();
    let err = c
        .add_endpoint("a", ep("https://x.com", "k1"), &mut next_id)
        .unwrap_err();
    assert!(matches!(err, ModelError::DuplicateEndpoint { .. }));
    assert!(!err.to_string().contains("k1") || err.to_string().contains("…"));
    // Same URL, other key: fine. Same pair in another profile: fine.
    c.add_endpoint("a", ep("https://x.com", "k2"), &mut next_id)
        .unwrap();
    c.add_endpoint("b", ep("https://x.com", "k1"), &mut next_id)
        .unwrap();
    assert_eq!(c.endpoints().count(), 3);
}

#[test]
fn ids_are_unique_even_when_the_generator_repeats() {
    let mut c = config_with(&["a"]);
    let mut seq = ["aaaaaa", "aaaaaa", "bbbbbb"].into_iter().map(String::from);
    c.add_endpoint("a", ep("https://1.com", "k"), || seq.next().unwrap())
        .unwrap();
    let e = c
        .add_endpoint("a", ep("https://2.com", "k"), || seq.next().unwrap())
        .unwrap();
    assert_eq!(e.id, "bbbbbb");
}

#[test]
fn endpoint_prefixes_resolve_or_report_ambiguity() {
    let mut c = config_with(&["a", "b"]);
    let mut seq = ["e7c1a2", "e7d000", "f00000"].into_iter().map(String::from);
    let mut next_id = || seq.next().unwrap();
    c.add_endpoint("a", ep("https://1.com", "k"), &mut next_id)
        .unwrap();
    c.add_endpoint("b", ep("https://2.com", "k"), &mut next_id)
        .unwrap();
    c.add_endpoint("b", ep("https://3.com", "k"), &mut next_id)
        .unwrap();
    let r = c.find_endpoint(None, "e7c").unwrap();
    assert_eq!(c.endpoint(r).id, "e7c1a2");
    assert_eq!(
        c.find_endpoint(None, "e7"),
        Err(ModelError::AmbiguousEndpoint {
            query: "e7".into(),
            matches: vec!["e7c1a2 (a)".into(), "e7d000 (b)".into()]
        })
    );
    // Scoped to a profile the prefix is unique.
    let r = c.find_endpoint(Some("b"), "e7").unwrap();
    assert_eq!(c.endpoint(r).id, "e7d000");
    assert!(matches!(
        c.find_endpoint(Some("a"), "f0"),
        Err(ModelError::UnknownEndpoint { .. })
    ));
    assert!(matches!(
        c.find_endpoint(None, ""),
        Err(ModelError::UnknownEndpoint { .. })
    ));
}

fn named(url: &str, name: &str) -> NewEndpoint {
    NewEndpoint {
        name: Some(name.into()),
        ..ep(url, "k")
    }
}

/// a: e7c1a2 "relay-a", e7d000 "Main"; b: f00000 "relay-a", f0e000 "e7" (hex-looking).
fn named_config() -> Config {
    let mut c = config_with(&["a", "b"]);
    let mut seq = ["e7c1a2", "e7d000", "f00000", "f0e000"]
        .into_iter()
        .map(String::from);
    let mut next_id = || seq.next().unwrap();
    c.add_endpoint("a", named("https://1.com", "relay-a"), &mut next_id)
        .unwrap();
    c.add_endpoint("a", named("https://2.com", "Main"), &mut next_id)
        .unwrap();
    c.add_endpoint("b", named("https://3.com", "relay-a"), &mut next_id)
        .unwrap();
    c.add_endpoint("b", named("https://4.com", "e7"), &mut next_id)
        .unwrap();
    c
}

fn found(c: &Config, profile: Option<&str>, query: &str) -> String {
    let r = c
        .find_endpoint(profile, query)
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    c.endpoint(r).id.clone()
}

#[test]
fn endpoint_names_resolve_ignoring_ascii_case_and_spaces() {
    let c = named_config();
    assert_eq!(found(&c, None, "Main"), "e7d000");
    assert_eq!(found(&c, None, "main"), "e7d000");
    assert_eq!(found(&c, None, " MAIN "), "e7d000");
    assert_eq!(found(&c, Some("a"), "main"), "e7d000");
    // Only whole names: a name prefix is no match (and the host is no name).
    assert!(matches!(
        c.find_endpoint(None, "mai"),
        Err(ModelError::UnknownEndpoint { .. })
    ));
    assert!(matches!(
        c.find_endpoint(None, "1.com"),
        Err(ModelError::UnknownEndpoint { .. })
    ));
    // Out of scope: the name of an endpoint in another profile is unknown here.
    assert_eq!(
        c.find_endpoint(Some("b"), "main"),
        Err(ModelError::UnknownEndpoint {
            query: "main".into(),
            profile: Some("b".into()),
        })
    );
}

#[test]
fn a_shared_endpoint_name_is_ambiguous_unless_the_profile_decides() {
    let c = named_config();
    let err = c.find_endpoint(None, "relay-a").unwrap_err();
    assert_eq!(
        err,
        ModelError::AmbiguousEndpointName {
            query: "relay-a".into(),
            matches: vec!["e7c1a2 (a)".into(), "f00000 (b)".into()],
        }
    );
    assert_eq!(
        err.to_string(),
        "endpoint name 'relay-a' is ambiguous: it names e7c1a2 (a), f00000 (b)"
    );
    assert!(err.hint().unwrap().contains("id"), "{:?}", err.hint());
    assert_eq!(found(&c, Some("a"), "relay-a"), "e7c1a2");
    assert_eq!(found(&c, Some("b"), "Relay-A"), "f00000");
    // The same name twice in one profile is ambiguous there too.
    let mut c = c;
    let r = c.find_endpoint(Some("b"), "e7").unwrap();
    c.set_endpoint_name(r, Some("relay-a")).unwrap();
    assert!(matches!(
        c.find_endpoint(Some("b"), "relay-a"),
        Err(ModelError::AmbiguousEndpointName { matches, .. }) if matches.len() == 2
    ));
}

#[test]
fn an_exact_id_beats_a_name_and_a_name_beats_an_id_prefix() {
    let mut c = named_config();
    // "e7" is the prefix of two ids in profile a and the name of f0e000 in b: the name wins.
    assert_eq!(found(&c, None, "e7"), "f0e000");
    assert_eq!(found(&c, None, "E7"), "f0e000");
    // Within profile a nothing is named "e7": the prefix rule applies (and is ambiguous).
    assert!(matches!(
        c.find_endpoint(Some("a"), "e7"),
        Err(ModelError::AmbiguousEndpoint { .. })
    ));
    // Ids and unique prefixes keep working.
    assert_eq!(found(&c, None, "e7c1a2"), "e7c1a2");
    assert_eq!(found(&c, None, "E7C"), "e7c1a2");
    assert_eq!(found(&c, None, "f0e"), "f0e000");
    // A name equal to another endpoint's id (hand-edited: the CLI refuses it) loses to it.
    let r = c.find_endpoint(None, "main").unwrap();
    c.endpoint_mut(r).name = Some("f00000".into());
    assert_eq!(found(&c, None, "f00000"), "f00000");
}

#[test]
fn a_name_may_not_be_another_endpoints_id() {
    let mut c = named_config();
    let main = c.find_endpoint(None, "main").unwrap();
    assert_eq!(
        c.set_endpoint_name(main, Some(" F00000 ")),
        Err(ModelError::NameIsAnId {
            name: "F00000".into(),
            id: "f00000".into(),
            profile: "b".into(),
        })
    );
    assert!(
        ModelError::NameIsAnId {
            name: String::new(),
            id: String::new(),
            profile: String::new()
        }
        .hint()
        .is_some()
    );
    assert_eq!(c.endpoint(main).name.as_deref(), Some("Main"), "unchanged");
    // Its own id is harmless; blank clears; names are trimmed.
    c.set_endpoint_name(main, Some("e7d000")).unwrap();
    c.set_endpoint_name(main, Some("  ")).unwrap();
    assert_eq!(c.endpoint(main).name, None);
    c.set_endpoint_name(main, Some("  backup ")).unwrap();
    assert_eq!(c.endpoint(main).name.as_deref(), Some("backup"));
    // Adding: refused likewise, and no new id is ever equal to an existing name.
    let err = c
        .add_endpoint("a", named("https://5.com", "E7C1A2"), || "aaaaaa".into())
        .unwrap_err();
    assert!(matches!(err, ModelError::NameIsAnId { .. }), "{err}");
    c.set_endpoint_name(main, Some("abcdef")).unwrap();
    let mut seq = ["abcdef", "123456", "bbbbbb"].into_iter().map(String::from);
    let e = c
        .add_endpoint("a", named("https://6.com", "123456"), || {
            seq.next().unwrap()
        })
        .unwrap();
    assert_eq!(e.id, "bbbbbb", "skips a name and its own name");
    assert_eq!(e.name.as_deref(), Some("123456"));
}

#[test]
fn tiers_hold_a_profile_at_most_once_and_follow_renames() {
    let mut c = config_with(&["a", "b", "c"]);
    c.set_tier("a", Some(Tier::Primary)).unwrap();
    c.set_tier("b", Some(Tier::Primary)).unwrap();
    c.set_tier("a", Some(Tier::Fallback)).unwrap();
    assert_eq!(c.tiers.primary, vec!["b"]);
    assert_eq!(c.tiers.fallback, vec!["a"]);
    c.rename_profile("a", "z").unwrap();
    assert_eq!(c.tiers.fallback, vec!["z"]);
    assert_eq!(c.active.as_deref(), Some("z"));
    c.set_tier("z", None).unwrap();
    assert_eq!(c.tiers.tier_of("z"), None);
    assert!(c.set_tier("nope", Some(Tier::Primary)).is_err());
}

#[test]
fn removing_a_tiered_profile_needs_force() {
    let mut c = config_with(&["a", "b"]);
    c.set_tier("a", Some(Tier::Secondary)).unwrap();
    assert!(matches!(
        c.remove_profile("a", false),
        Err(ModelError::ProfileInTier { .. })
    ));
    assert_eq!(c.profiles.len(), 2);
    c.remove_profile("a", true).unwrap();
    assert!(c.tiers.secondary.is_empty());
    assert_eq!(c.active, None);
    assert_eq!(c.active_profile().unwrap().name, "b");
}

#[test]
fn routes_are_checked_ordered_and_follow_profiles() {
    let mut c = config_with(&["main", "cheap", "official"]);
    assert_eq!(c.add_route(" claude-haiku-* ", "cheap", None), Ok(1));
    assert_eq!(c.add_route("claude-opus-*", "official", None), Ok(2));
    assert_eq!(c.add_route("claude-haiku-4-5", "official", Some(1)), Ok(1));
    let patterns: Vec<&str> = c.routes.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(
        patterns,
        ["claude-haiku-4-5", "claude-haiku-*", "claude-opus-*"]
    );
    // First match wins.
    assert_eq!(c.route_for("claude-haiku-4-5").unwrap().profile, "official");
    assert_eq!(c.route_for("claude-haiku-3").unwrap().profile, "cheap");
    assert!(c.route_for("claude-sonnet-4-5").is_none());
    // Refusals change nothing.
    let before = c.clone();
    assert!(matches!(
        c.add_route("claude-haiku-*", "official", None),
        Err(ModelError::DuplicateRoute { profile, .. }) if profile == "cheap"
    ));
    assert!(matches!(
        c.add_route("x-*", "nope", None),
        Err(ModelError::UnknownProfile { .. })
    ));
    assert!(matches!(
        c.add_route(" ", "cheap", None),
        Err(ModelError::InvalidRoutePattern(_))
    ));
    assert!(matches!(
        c.add_route("x-*", "cheap", Some(5)),
        Err(ModelError::InvalidRoutePosition {
            position: 5,
            routes: 3
        })
    ));
    assert!(matches!(
        c.add_route("x-*", "cheap", Some(0)),
        Err(ModelError::InvalidRoutePosition { .. })
    ));
    assert_eq!(
        c.remove_route("claude-*"),
        Err(ModelError::UnknownRoute("claude-*".into()))
    );
    assert_eq!(c, before);
    // Renames follow; a routed profile is only removed with force, its routes with it.
    c.rename_profile("official", "anthropic").unwrap();
    assert_eq!(
        c.routes_to("anthropic"),
        ["claude-haiku-4-5", "claude-opus-*"]
    );
    assert!(matches!(
        c.remove_profile("anthropic", false),
        Err(ModelError::ProfileRouted { patterns, .. }) if patterns.len() == 2
    ));
    assert_eq!(c, {
        let mut b = before.clone();
        b.rename_profile("official", "anthropic").unwrap();
        b
    });
    c.remove_profile("anthropic", true).unwrap();
    assert_eq!(c.routes.len(), 1);
    let (at, r) = c.remove_route("claude-haiku-*").unwrap();
    assert_eq!((at, r.profile.as_str()), (1, "cheap"));
    assert!(c.routes.is_empty());
}

#[test]
fn switch_records_from_and_to() {
    let mut c = config_with(&["a", "b"]);
    let r = c
        .switch_to("b", "test".into(), SwitchKind::Manual, now())
        .unwrap();
    assert_eq!((r.from.as_deref(), r.to.as_str()), (Some("a"), "b"));
    assert_eq!(c.active.as_deref(), Some("b"));
    assert!(
        c.switch_to("x", "t".into(), SwitchKind::Manual, now())
            .is_err()
    );
}

#[test]
fn history_is_capped_oldest_first() {
    let mut h = History::default();
    let mut c = config_with(&["a", "b"]);
    for i in 0..HISTORY_CAP + 5 {
        let to = if i % 2 == 0 { "b" } else { "a" };
        h.push(
            c.switch_to(to, format!("r{i}"), SwitchKind::Manual, now())
                .unwrap(),
        );
    }
    assert_eq!(h.records.len(), HISTORY_CAP);
    assert_eq!(h.records[0].reason, "r5");
    assert_eq!(
        h.latest(1).next().unwrap().reason,
        format!("r{}", HISTORY_CAP + 4)
    );
}

#[test]
fn unknown_fields_survive_a_round_trip() {
    let json = r#"{"version":1,"future":{"x":1},"profiles":[{"name":"a","created_at":"2026-01-01T00:00:00Z","shiny":true,
        "endpoints":[{"id":"abcdef","url":"https://x.com","key":"k","new_field":[1,2]}]}]}"#;
    let c: Config = serde_json::from_str(json).unwrap();
    let back = serde_json::to_value(&c).unwrap();
    assert_eq!(back["future"]["x"], 1);
    assert_eq!(back["profiles"][0]["shiny"], true);
    assert_eq!(back["profiles"][0]["endpoints"][0]["new_field"][1], 2);
    assert_eq!(back["profiles"][0]["endpoints"][0]["weight"], 100);
}
