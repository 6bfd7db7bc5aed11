//! Static TLS for initial-exec relocations: `CHECK_STATIC_TLS` / `_dl_allocate_static_tls`.

use super::{Failure, Loader, Process, TlsUse};
use crate::verdict::Outcome;

impl<'a> Loader<'a> {
    /// `CHECK_STATIC_TLS` / `_dl_allocate_static_tls` for the object defining the TLS.
    pub(super) fn static_tls(
        &self,
        p: &mut Process<'a>,
        target: usize,
        tls: &mut TlsUse,
    ) -> Result<(), Failure> {
        if p.maps[target].static_tls {
            return Ok(());
        }
        let Some(block) = p.maps[target].file.tls_block() else {
            return Ok(());
        };
        let free = p.tls.free();
        match p.tls.allocate(block, false) {
            Some(used) => {
                p.maps[target].static_tls = true;
                tls.static_blocks
                    .push((p.maps[target].l_name.clone(), used));
                Ok(())
            }
            None => {
                let who = p.maps[target].dso_filename().to_string();
                let need = block.size.saturating_add(block.firstbyte);
                let deficit = need.saturating_add(block.align).saturating_sub(free);
                let optional = self
                    .env
                    .static_tls
                    .optional
                    .saturating_add(deficit)
                    .checked_next_multiple_of(512)
                    .unwrap_or(u64::MAX);
                let cause = if block.align > p.tls.align {
                    format!(
                        "{who} needs {}-byte aligned initial-exec TLS; the static TLS block is only {}-byte aligned",
                        block.align, p.tls.align
                    )
                } else {
                    format!(
                        "{who} uses initial-exec TLS ({} bytes, align {}) and is loaded after start-up; only {free} bytes of static TLS surplus are left (surplus {} bytes)",
                        block.size, block.align, self.env.static_tls.surplus
                    )
                };
                Err(Failure::new(
                    &who,
                    "cannot allocate memory in static TLS block",
                    0,
                    Outcome::StaticTls,
                    cause,
                    format!(
                        "build it with -ftls-model=global-dynamic (or -mtls-dialect=gnu2), link or LD_PRELOAD it into the host so it loads at start-up, or run with GLIBC_TUNABLES=glibc.rtld.optional_static_tls={optional}"
                    ),
                ))
            }
        }
    }
}
