//! Typed values of the commands' flags: what clap's value parsers (`value_parser =
//! values::duration`) and the few flags whose text spans several values (`--seccomp MODE
//! [PROFILE]`) or a file (`--env-file`) turn into before any command runs. The runtime
//! receives these types and never parses command-line text.
//!
//! A parser returns its error as one line of text; clap shows it after `invalid value 'X' for
//! '--flag <VALUE>': `, which `main` prints on one line (exit 2).
//!
//! `--env-file` is read here by hand rather than with `dotenvy`: dotenvy substitutes
//! `$VAR`/`${VAR}` inside values and reads escapes, which would change the value a plugin
//! sees for existing files, and its errors do not name the line as `FILE:LINE` does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::runtime::contract::{check_ident, name_or_none};
use crate::runtime::{EnvVar, Expect, seccomp};

/// `--timeout 60s`, `--phase-timeout 500ms`, `--cpu-time 10s` (see [`crate::units`]).
pub fn duration(text: &str) -> Result<Duration, String> {
    crate::units::parse_duration(text).map_err(line)
}

/// `--memory 256M`, in bytes (see [`crate::units`]).
pub fn size(text: &str) -> Result<u64, String> {
    crate::units::parse_size(text).map_err(line)
}

/// `--cpus 0.5`: a positive number of CPUs.
pub fn cpus(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(c) if c > 0.0 && c.is_finite() => Ok(c),
        _ => Err("--cpus must be a positive number".into()),
    }
}

/// An error with its causes, on one line, for clap to show.
fn line(e: anyhow::Error) -> String {
    format!("{e:#}")
}

/// `--expect Name=TYPE` or `--expect Name`.
pub fn expect(arg: &str) -> Result<Expect, String> {
    let (name, ty) = match arg.split_once('=') {
        Some((n, t)) => (n.trim().to_string(), name_or_none(t.to_string())),
        None => (arg.trim().to_string(), None),
    };
    check_ident(&name)
        .with_context(|| format!("--expect {arg}"))
        .map_err(line)?;
    Ok(Expect { name, ty })
}

/// `--seccomp learn [OUT]` (default `seccomp-profile.json`) or `--seccomp enforce PROFILE`.
pub fn seccomp_mode(words: &[String]) -> Result<seccomp::Mode> {
    Ok(match words {
        [mode] if mode == "learn" => seccomp::Mode::Learn {
            out: PathBuf::from("seccomp-profile.json"),
        },
        [mode, out] if mode == "learn" => seccomp::Mode::Learn {
            out: PathBuf::from(out),
        },
        [mode, profile] if mode == "enforce" => seccomp::Mode::Enforce {
            profile: PathBuf::from(profile),
        },
        [mode] if mode == "enforce" => bail!("--seccomp enforce needs a PROFILE"),
        other => bail!(
            "--seccomp {}: expected `learn [OUT]` or `enforce PROFILE`",
            other.join(" ")
        ),
    })
}

/// A name a shell would accept.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `--env NAME=VALUE`, or `--env NAME` to pass plugctl's own value of NAME.
pub fn env_var(arg: &str) -> Result<EnvVar, String> {
    parse_env_var(arg).map_err(line)
}

fn parse_env_var(arg: &str) -> Result<EnvVar> {
    let (name, value) = match arg.split_once('=') {
        Some((n, v)) => (n.to_string(), v.to_string()),
        None => {
            let value = std::env::var(arg).with_context(|| {
                format!("--env {arg}: not set in plugctl's environment (use --env {arg}=VALUE)")
            })?;
            (arg.to_string(), value)
        }
    };
    if !valid_name(&name) {
        bail!("--env {name}: not a valid environment variable name");
    }
    Ok(EnvVar {
        name,
        value,
        origin: "--env".into(),
    })
}

/// A dotenv-style file: `NAME=VALUE` lines, `#` comments, blank lines, an optional
/// `export ` prefix, values optionally in single or double quotes.
pub fn env_file(path: &Path) -> Result<Vec<EnvVar>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--env-file {}", path.display()))?;
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            bail!("{}:{}: expected NAME=VALUE", path.display(), n + 1);
        };
        let name = name.trim();
        if !valid_name(name) {
            bail!(
                "{}:{}: `{name}` is not a valid variable name",
                path.display(),
                n + 1
            );
        }
        let value = value.trim();
        let value = match (value.chars().next(), value.chars().last()) {
            (Some(a), Some(b)) if value.len() >= 2 && a == b && (a == '"' || a == '\'') => {
                &value[1..value.len() - 1]
            }
            _ => value,
        };
        out.push(EnvVar {
            name: name.to_string(),
            value: value.to_string(),
            origin: format!("--env-file {}:{}", path.display(), n + 1),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_parse() {
        let dir = std::env::temp_dir().join(format!("plugctl-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("e.env");
        std::fs::write(&file, "# c\nexport A=1\nB=\"two words\"\n\nC='x=y'\n").unwrap();
        let vars = env_file(&file).unwrap();
        let pairs: Vec<(&str, &str)> = vars
            .iter()
            .map(|v| (v.name.as_str(), v.value.as_str()))
            .collect();
        assert_eq!(pairs, vec![("A", "1"), ("B", "two words"), ("C", "x=y")]);
        std::fs::write(&file, "NOT A LINE\n").unwrap();
        assert!(env_file(&file).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn flag_values_parse_or_say_why() {
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(size("64M").unwrap(), 64 << 20);
        assert!(cpus("0").is_err() && cpus("NaN").is_err() && cpus("0.5").is_ok());
        assert_eq!(
            expect("Handler= func() ").unwrap().ty.as_deref(),
            Some("func()")
        );
        assert!(expect("lower").is_err());
        assert_eq!(
            env_var("A=b=c").unwrap(),
            EnvVar {
                name: "A".into(),
                value: "b=c".into(),
                origin: "--env".into()
            }
        );
        assert!(env_var("1A=x").is_err());
        let learn = seccomp_mode(&["learn".into()]).unwrap();
        assert!(
            matches!(learn, seccomp::Mode::Learn { out } if out == Path::new("seccomp-profile.json"))
        );
        assert!(seccomp_mode(&["enforce".into()]).is_err());
        assert!(seccomp_mode(&["forbid".into(), "x".into()]).is_err());
    }
}
