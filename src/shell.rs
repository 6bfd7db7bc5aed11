//! Quoting for the shell commands plugctl shows people (POSIX `sh`).

/// `text` as one `sh` word: unchanged when it holds only characters no shell treats
/// specially, else in single quotes (`'` written as `'\\''`); the empty string is `''`.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_only_when_needed() {
        assert_eq!(shell_quote("-gcflags=all=-N -l"), "'-gcflags=all=-N -l'");
        assert_eq!(shell_quote("all=-N -l"), "'all=-N -l'");
        assert_eq!(shell_quote("-trimpath"), "-trimpath");
        assert_eq!(shell_quote("netgo,osusergo"), "netgo,osusergo");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
