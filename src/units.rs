//! Human durations and sizes, as flags (`--timeout 60s`, `--memory 256M`) and the
//! contract and matrix files write them.
//!
//! Hand-written rather than `humantime`/`bytesize`: plugctl's syntax has always taken a
//! plain number as seconds (`--timeout 3`) and fractions (`1.5s`), which `humantime`
//! rejects, and binary multiples for `M`/`G` (`256M` = 256 MiB, as cgroups and `ulimit`
//! mean it), where `bytesize` reads `M` as 10^6. Swapping either in would change what
//! existing command lines mean.

use std::time::Duration;

use anyhow::{Context, Result, bail};

/// `500ms`, `5s`, `2m`, `1h`, or a plain number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = number
        .parse()
        .with_context(|| format!("`{text}` is not a duration (e.g. 500ms, 5s, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("`{text}`: unknown unit `{unit}` (ms, s, m, h)"),
    };
    if !secs.is_finite() || secs < 0.0 {
        bail!("`{text}` is not a duration");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `64M`, `1G`, `512MiB`, `1048576` (bytes), `2k`.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let n: f64 = number
        .parse()
        .with_context(|| format!("`{text}` is not a size (e.g. 256M, 1G)"))?;
    let mult: f64 = match unit
        .to_ascii_lowercase()
        .trim_end_matches("ib")
        .trim_end_matches('b')
    {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => bail!("`{text}`: unknown unit `{unit}` (K, M, G)"),
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes < 1.0 {
        bail!("`{text}` is not a size");
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3 parsecs").is_err());
    }
}
