//! `greenlight-fuzz TARGET SECONDS`: mutation fuzzing of one parser (`spec`, `kubeconfig`,
//! `adc`, `doppler-config`, `manifests`, or `all`) for a while. Inputs start from seeds; each round applies
//! a few random edits (byte flips, insertions of YAML and JSON syntax, deletions,
//! duplications, splices of other seeds, deep nesting, anchors and aliases, odd Unicode) and
//! calls the parser under `catch_unwind`. An input that panics is saved under
//! `fuzz/regressions/TARGET/` (the suite replays them) and the run fails; an input that takes
//! longer than a second is reported. Prints how many inputs were tried and accepted.

#![allow(clippy::indexing_slicing)] // a harness over random indices it bounds itself

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use greenlight_engine::fuzzing::TARGETS;

/// A small, fast, seedable random source (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Pieces of YAML and JSON syntax (and hostile text) worth inserting.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "\n",
    "\n  ",
    "\t",
    "#",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!binary ",
    "? ",
    "|\n  ",
    ">-\n  ",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "~",
    "null",
    "true",
    "1e999",
    "-0",
    "0x1F",
    "\u{0}",
    "\u{1b}[2J",
    "\u{202e}",
    "\u{feff}",
    "\u{2028}",
    "é",
    "𝔤",
    "\\",
    "\\u0000",
    "$(touch x)",
    "`x`",
    "version: 1\n",
    "secrets:\n",
    "values:\n",
    "targets:\n",
    "backends:\n",
    "kind: ",
    "name: ",
    "contexts:\n",
    "users:\n",
    "clusters:\n",
    "current-context: ",
    "scoped:\n",
    "type: ",
    "private_key: ",
];

fn mutate(input: &[u8], seeds: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            2 if !out.is_empty() => {
                let end = (at + rng.below(32)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + rng.below(64)).min(out.len());
                let piece = out[start..end].to_vec();
                out.splice(at..at, piece);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let start = rng.below(other.len());
                    let end = (start + rng.below(256)).min(other.len());
                    out.splice(at..at, other[start..end].iter().copied());
                }
            }
            5 => {
                let depth = 1 + rng.below(200);
                let open = if rng.below(2) == 0 { "[" } else { "{a: " };
                out.splice(at..at, open.repeat(depth).into_bytes());
            }
            6 => {
                let byte = rng.next() as u8;
                out.insert(at, byte);
            }
            _ => {
                let long = "x".repeat(rng.below(5000));
                out.splice(at..at, long.into_bytes());
            }
        }
    }
    out
}

fn seeds(root: &Path, target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut add_dir = |dir: PathBuf| {
        if let Ok(entries) = std::fs::read_dir(dir) {
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    };
    add_dir(root.join("fuzz/seeds").join(target));
    add_dir(root.join("fuzz/regressions").join(target));
    if target == "spec" {
        add_dir(root.join("specs/examples"));
        add_dir(root.join("tests/fixtures/specs/good"));
        add_dir(root.join("tests/fixtures/specs/bad"));
    }
    let mut seeds: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    seeds.push(Vec::new());
    seeds
}

/// Fuzzes `target` for `budget`; the number of inputs that panicked.
fn fuzz(root: &Path, name: &str, parse: fn(&[u8]) -> bool, budget: Duration) -> usize {
    let seeds = seeds(root, name);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ budget.as_nanos() as u64 ^ name.len() as u64);
    let started = Instant::now();
    let (mut tried, mut accepted, mut crashes) = (0u64, 0u64, 0usize);
    while started.elapsed() < budget {
        let base = &seeds[rng.below(seeds.len())];
        let input = mutate(base, &seeds, &mut rng);
        let began = Instant::now();
        match std::panic::catch_unwind(|| parse(&input)) {
            Ok(ok) => accepted += u64::from(ok),
            Err(_) => {
                crashes += 1;
                let file = root
                    .join("fuzz/regressions")
                    .join(name)
                    .join(format!("crash-{:016x}", rng.next()));
                std::fs::write(&file, &input).ok();
                eprintln!("{name}: a panic, input kept in {}", file.display());
            }
        }
        if began.elapsed() > Duration::from_secs(1) {
            eprintln!("{name}: an input took {:?} ({} bytes)", began.elapsed(), input.len());
        }
        tried += 1;
    }
    println!(
        "{name}: {tried} inputs in {:?}, {accepted} accepted, {crashes} panics",
        started.elapsed()
    );
    crashes
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "all".to_owned());
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // A panic is the finding: keep the harness's output readable.
    std::panic::set_hook(Box::new(|_| {}));
    let chosen: Vec<_> = TARGETS.iter().filter(|(n, _)| target == "all" || *n == target).collect();
    if chosen.is_empty() {
        eprintln!("unknown target `{target}`: use spec, kubeconfig, adc, doppler-config or all");
        return std::process::ExitCode::from(2);
    }
    let crashes: usize = chosen
        .iter()
        .map(|(name, parse)| fuzz(&root, name, *parse, Duration::from_secs(seconds)))
        .sum();
    if crashes == 0 { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}
