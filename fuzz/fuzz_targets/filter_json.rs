//! Fuzz target `filter_json`: the property check `baldur_journal::fuzzing::check_filter_json`
//! (see fuzz/README.md). A violated property is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(problem) = baldur_journal::fuzzing::check_filter_json(data) {
        panic!("{problem}");
    }
});
