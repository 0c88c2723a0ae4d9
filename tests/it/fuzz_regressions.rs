//! Every input the fuzz harness (`fuzz/`) ever saw panic a parser, and its seeds, replayed:
//! none may panic now. Run the harness with `cargo run --release -p greenlight-fuzz -- all 600`.

use greenlight::fuzzing::TARGETS;

use crate::support::project_root;

#[test]
fn no_kept_fuzz_input_panics_a_parser() {
    let mut replayed = 0;
    for (name, parse) in TARGETS {
        for dir in ["fuzz/regressions", "fuzz/seeds"] {
            let Ok(entries) = std::fs::read_dir(project_root().join(dir).join(name)) else {
                continue;
            };
            for file in entries.flatten().map(|e| e.path()).filter(|p| p.is_file()) {
                let input = std::fs::read(&file).unwrap();
                let result = std::panic::catch_unwind(|| parse(&input));
                assert!(result.is_ok(), "{name} panicked on {}", file.display());
                replayed += 1;
            }
        }
    }
    assert!(replayed >= 4, "the seeds are replayed too");
}
