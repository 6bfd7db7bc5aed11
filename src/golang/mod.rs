//! `golang`: Go facts read out of an artifact (build info, plugin path, package hashes).
