//! Fuzz target `open_directory`: the property check `baldur_journal::fuzzing::check_open_directory`
//! (see fuzz/README.md). A violated property is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(problem) = baldur_journal::fuzzing::check_open_directory(data) {
        panic!("{problem}");
    }
});
