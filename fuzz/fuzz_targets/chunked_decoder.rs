//! `ChunkedDecoder` never panics, keeps its `Decoded` invariants, and decodes the same
//! payload and outcome whether the input comes whole or in pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::http1::{BodyError, ChunkedDecoder};

/// Payload, whether the message ended, and how many input bytes it took.
type Outcome = Result<(Vec<u8>, bool, usize), BodyError>;

fn run(input: &[u8], piece: usize) -> Outcome {
    let mut dec = ChunkedDecoder::new(64, 256);
    let mut payload = Vec::new();
    let mut taken = 0; // bytes consumed so far
    let mut avail = 0; // bytes handed over so far
    while avail < input.len() {
        avail = (avail + piece).min(input.len());
        loop {
            let rest = &input[taken..avail];
            let d = dec.decode(rest)?;
            assert!(d.consumed <= rest.len());
            if let Some((s, e)) = d.data {
                assert!(s < e && e <= d.consumed);
                payload.extend_from_slice(&rest[s..e]);
            }
            taken += d.consumed;
            if d.done {
                return Ok((payload, true, taken));
            }
            if d.consumed == 0 {
                break;
            }
        }
    }
    Ok((payload, false, taken))
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let whole = run(input, input.len().max(1));
    assert_eq!(run(input, usize::from(piece % 7) + 1), whole);
});
