//! Helpers shared by the integration tests (`tests/`). The modules stay
//! beside the tests that use them; this crate compiles each once, for
//! every test binary, and a helper one binary leaves unused is not dead
//! code there. (The benches' helpers are a crate of their own,
//! `benches/common`, so that test binaries do not link criterion.)

#[path = "../common/mod.rs"]
pub mod common;
#[path = "../crash_common/mod.rs"]
pub mod crash_common;
#[path = "../interop_common/mod.rs"]
pub mod interop_common;
#[path = "../pg_common/mod.rs"]
pub mod pg_common;
#[path = "../redis_common/mod.rs"]
pub mod redis_common;
#[path = "../seam/mod.rs"]
pub mod seam;
#[path = "../skip/mod.rs"]
pub mod skip;
