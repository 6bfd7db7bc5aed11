//! `wasm`: a plugin's package as a WebAssembly module instead of a `-buildmode=plugin`
//! shared object. [`ready`] says what blocks `GOOS=wasip1` (the migration report of
//! `inspect --wasm-ready`), [`wrapper`] generates the lifecycle exports added through
//! `go build -overlay`, [`build`] builds the reactor module. Running it is the
//! runtime's job (`runtime::wasm`): an interpreter in a sandboxed child.

pub mod build;
pub mod ready;
pub mod wrapper;
