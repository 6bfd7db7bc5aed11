//! The paths in the children's messages, mapped back to the paths the user gave.

/// Rewrites the absolute path plugctl passed to the child back to the path the user gave,
/// so messages read like the user's own host would print them (and like `inspect`).
#[derive(Debug, Clone)]
pub struct PathMap {
    pub pairs: Vec<(String, String)>,
}

impl PathMap {
    /// For the C shim: `dlopen(path)` messages name the path as passed, everywhere.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (abs, user) in &self.pairs {
            if abs == user {
                continue;
            }
            out = out.replace(abs.as_str(), user.as_str());
            if let (Some(a), Some(u)) = (abs.strip_suffix(".so"), user.strip_suffix(".so")) {
                out = out.replace(&format!("\"{a}\""), &format!("\"{u}\""));
            }
        }
        out
    }

    /// For Go: only the argument of `plugin.Open("...")` is the path as passed (with or
    /// without `.so`); a loader message after it names the realpath Go gave `dlopen`.
    pub fn apply_go(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (abs, user) in &self.pairs {
            let mut forms = vec![(abs.clone(), user.clone())];
            if let (Some(a), Some(u)) = (abs.strip_suffix(".so"), user.strip_suffix(".so")) {
                forms.push((a.to_string(), u.to_string()));
            }
            for (a, u) in forms {
                let from = format!("plugin.Open(\"{a}\")");
                if let Some(rest) = out.strip_prefix(&from) {
                    out = format!("plugin.Open(\"{u}\"){rest}");
                }
            }
        }
        out
    }
}
