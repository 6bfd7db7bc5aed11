//! `plugctl explain`: every finding code has a full explanation, from the one table of
//! codes in `src/findings.rs`.

mod common;

use plugctl::findings::{Code, Severity};
use serde_json::Value;

use common::run_plugctl;

fn stdout(args: &[&str]) -> String {
    let output = run_plugctl(args);
    assert!(
        output.status.success(),
        "plugctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Whitespace-insensitive containment (the text is wrapped for the terminal).
fn contains_words(haystack: &str, needle: &str) -> bool {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    squash(haystack).contains(&squash(needle))
}

#[test]
fn every_code_has_every_section() {
    for code in Code::ALL {
        let id = code.id();
        assert!(code.explanation().len() > 80, "{id}: explanation too short");
        assert!(
            !code.detection().is_empty(),
            "{id}: how plugctl detects it is missing (detect: in the codes! table)"
        );
        assert!(
            !code.fix().is_empty(),
            "{id}: the fix is missing (fix: in the codes! table)"
        );
        if code.severity() != Severity::Info {
            assert!(
                !code.runtime_error().is_empty(),
                "{id}: the runtime error it predicts is missing (error: in the codes! table)"
            );
        }
        assert!(
            !code.docs().is_empty(),
            "{id}: documentation links are missing (docs: in the codes! table)"
        );
        for link in code.docs() {
            assert!(
                link.starts_with("https://") && !link.contains(' '),
                "{id}: bad link {link}"
            );
        }
    }
}

#[test]
fn explain_covers_every_code() {
    for code in Code::ALL {
        let text = stdout(&["explain", code.id(), "--color", "never"]);
        assert!(
            text.starts_with(&format!(
                "{} {}: {}",
                code.id(),
                code.severity().as_str(),
                code.title()
            )),
            "{text}"
        );
        for part in [
            code.explanation(),
            code.detection(),
            code.runtime_error(),
            code.fix(),
        ] {
            assert!(
                contains_words(&text, part),
                "{}: missing {part:?} in\n{text}",
                code.id()
            );
        }
        for link in code.docs() {
            assert!(text.contains(link), "{}: missing link {link}", code.id());
        }
        for heading in ["How plugctl detects it", "Fix", "Documentation"] {
            assert!(
                text.contains(heading),
                "{}: no {heading} section",
                code.id()
            );
        }
    }
}

#[test]
fn explain_is_case_insensitive_and_rejects_unknown_codes() {
    assert_eq!(stdout(&["explain", "pc203"]), stdout(&["explain", "PC203"]));
    let output = run_plugctl(&["explain", "PC999"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PC999"));
    let output = run_plugctl(&["explain"]);
    assert_eq!(output.status.code(), Some(2), "CODE or --list is required");
}

#[test]
fn explain_list_names_every_code() {
    let list = stdout(&["explain", "--list", "--color", "never"]);
    let (codes, rule) = list
        .split_once("\n\n")
        .expect("codes, a blank line, the exit rule");
    assert_eq!(codes.lines().count(), Code::ALL.len());
    assert!(
        rule.starts_with("Exit status: an artifact whose predicted load outcome is not `ok`"),
        "{rule}"
    );
    for (line, code) in codes.lines().zip(Code::ALL) {
        assert!(
            line.starts_with(code.id()) && line.ends_with(code.title()),
            "{line}"
        );
        assert!(line.contains(code.severity().as_str()), "{line}");
    }
    let json: Value =
        serde_json::from_str(&stdout(&["explain", "--list", "--format", "json"])).unwrap();
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), Code::ALL.len());
    for (item, code) in items.iter().zip(Code::ALL) {
        assert_eq!(item["code"], code.id());
        assert_eq!(item["runtime_error"], code.runtime_error());
        assert_eq!(item["docs"].as_array().unwrap().len(), code.docs().len());
    }
    let one: Value =
        serde_json::from_str(&stdout(&["explain", "PC100", "--format", "json"])).unwrap();
    assert_eq!(one[0]["code"], "PC100");
}
