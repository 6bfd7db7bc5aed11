//! The child's environment: only what the user passes (`--env`, `--env-file`, read in
//! `commands::values`), and the masking of secret values in everything plugctl prints.

/// One variable the user passes to the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    /// Where it came from, for messages: `--env`, `--env-file FILE:LINE`.
    pub origin: String,
}

impl EnvVar {
    /// Whether the name says it holds a secret (its value is masked in all output).
    pub fn is_secret(&self) -> bool {
        is_secret_name(&self.name)
    }
}

/// `KEY`, `TOKEN`, `SECRET`, `PASSWORD`/`PASSWD`/`PASS`, `CREDENTIAL`, `AUTH`, `PRIVATE`,
/// `COOKIE`, `SESSION`, `DSN` anywhere in the name, case-insensitively.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASS",
        "CREDENTIAL",
        "AUTH",
        "PRIVATE",
        "COOKIE",
        "SESSION",
        "DSN",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// Later definitions win, as in a shell; the order of first appearance is kept.
pub fn merge(vars: Vec<EnvVar>) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = Vec::new();
    for var in vars {
        match out.iter_mut().find(|v| v.name == var.name) {
            Some(existing) => *existing = var,
            None => out.push(var),
        }
    }
    out
}

/// Replaces secret values with `***` in any text plugctl prints.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Longest first, so a value containing another is masked whole.
    secrets: Vec<String>,
}

/// Values shorter than this are not masked (masking `a` would garble every message).
pub const MIN_MASKED_LEN: usize = 4;

impl Masker {
    /// Masks the secret values of `vars` and of plugctl's own environment: a plugin that
    /// reads a value it was never given must not get it printed either.
    pub fn new(vars: &[EnvVar]) -> Masker {
        let own = std::env::vars_os().filter_map(|(k, v)| {
            let (k, v) = (k.into_string().ok()?, v.into_string().ok()?);
            is_secret_name(&k).then_some(v)
        });
        let mut secrets: Vec<String> = vars
            .iter()
            .filter(|v| v.is_secret())
            .map(|v| v.value.clone())
            .chain(own)
            .filter(|v| v.len() >= MIN_MASKED_LEN)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Masker { secrets }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// How a variable's value is shown: masked for secrets, quoted otherwise.
    pub fn show(&self, var: &EnvVar) -> String {
        if var.is_secret() {
            "***".to_string()
        } else {
            format!("{:?}", var.value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_others_are_not() {
        let vars = vec![
            EnvVar {
                name: "DEEPSEEK_API_KEY".into(),
                value: "sk-live-123456".into(),
                origin: String::new(),
            },
            EnvVar {
                name: "DEEPSEEK_BASE_URL".into(),
                value: "https://example.invalid".into(),
                origin: String::new(),
            },
        ];
        let m = Masker::new(&vars);
        assert_eq!(
            m.mask("key=sk-live-123456 url=https://example.invalid"),
            "key=*** url=https://example.invalid"
        );
        assert_eq!(m.show(&vars[0]), "***");
    }
}
