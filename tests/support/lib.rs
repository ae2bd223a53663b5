//! Helpers shared by the integration tests (`tests/`) and the benches
//! (`benches/`). The modules stay beside the tests that use them; this
//! crate compiles each once, for every test binary.

#[path = "../../benches/common/mod.rs"]
pub mod bench;
#[path = "../common/mod.rs"]
pub mod common;
#[path = "../crash_common/mod.rs"]
pub mod crash_common;
#[path = "../redis_common/mod.rs"]
pub mod redis_common;
#[path = "../seam/mod.rs"]
pub mod seam;
#[path = "../skip/mod.rs"]
pub mod skip;
