//! Chunked transfer-coding decoder (RFC 9112 §7.1), sans-io and strict.
//! CONTRACT: signatures fixed; bodies to be written.

/// Why a body could not be decoded. Every variant means: reject (400) and close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Malformed chunk size line, data framing or trailer.
    Malformed(&'static str),
    /// Chunk extensions over `max_chunk_ext` or trailers over `max_trailer_bytes`.
    TooLarge,
}

/// One step of decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes consumed by this step (framing and data).
    pub consumed: usize,
    /// Payload bytes inside the consumed input, as a range of `input`.
    pub data: Option<(usize, usize)>,
    /// The last chunk and the (discarded) trailer block have been consumed.
    pub done: bool,
}

/// Strict incremental chunked decoder. Trailers are read, bounded and discarded.
#[derive(Clone, Debug, Default)]
pub struct ChunkedDecoder {
    _private: (),
}

impl ChunkedDecoder {
    pub fn new(max_chunk_ext: usize, max_trailer_bytes: usize) -> ChunkedDecoder {
        let _ = (max_chunk_ext, max_trailer_bytes);
        todo!("http1::ChunkedDecoder::new")
    }

    /// Reset for a new message, keeping the limits.
    pub fn reset(&mut self) {
        todo!("http1::ChunkedDecoder::reset")
    }

    /// Decode from `input`. Call repeatedly with the unconsumed rest; `consumed == 0` with
    /// `done == false` means more input is needed. Total payload size is checked by the caller.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, BodyError> {
        let _ = input;
        todo!("http1::ChunkedDecoder::decode")
    }
}
