//! Replays the fuzz corpus (`fuzz/corpus/model/`) through the same checks as
//! the fuzz target, so CI needs no nightly toolchain to keep those inputs
//! passing.

mod common;

#[test]
fn the_fuzz_corpus_still_passes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/model");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    // Under Miri, a sample: listing and replaying thousands of files there
    // takes many minutes.
    let take = if cfg!(miri) { 3 } else { usize::MAX };
    let mut files: Vec<_> = entries
        .take(take)
        .map(|entry| entry.expect("a readable corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus is empty");
    for path in &files {
        let data = std::fs::read(path).expect("a readable corpus file");
        if let Err(panic) = std::panic::catch_unwind(|| common::check(&data)) {
            eprintln!("corpus input {} fails", path.display());
            std::panic::resume_unwind(panic);
        }
    }
}
