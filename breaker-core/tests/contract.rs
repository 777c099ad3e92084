//! Rules of the contract that the mutation run (`scripts/mutants.sh`, issue
//! #18) found no test stating: each test here names the rule it holds.
#![cfg(not(loom))]

use breaker_core::Mode;

/// `Mode` prints as the words operators read in logs and on status pages.
#[test]
fn modes_display_as_lowercase_words_and_honour_padding() {
    assert_eq!(Mode::Automatic.to_string(), "automatic");
    assert_eq!(Mode::ForcedOpen.to_string(), "forced open");
    assert_eq!(Mode::Disabled.to_string(), "disabled");
    assert_eq!(format!("[{:>12}]", Mode::Disabled), "[    disabled]");
}
