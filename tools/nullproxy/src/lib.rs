//! `nullproxy`: for each accepted connection, one upstream connection and a byte copy both
//! ways, no HTTP parsing — the practical floor of proxy cost. See README.md.
//!
//! Lifecycle of a connection: *Connect* (upstream; failure closes the client) → *Copy* (two
//! directions, one reused buffer each) → on client EOF the FIN is passed on to the upstream
//! and responses keep flowing; on upstream EOF, or any error in either direction, both
//! sockets are closed.
#![forbid(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};
use monoio::net::TcpStream;

pub use upstream::Workers;
use upstream::runtime::{Accept, BACKLOG};

const BUF: usize = 16 * 1024;

/// Start `workers` forwarders on `listen` to `upstream`. Dropping the result stops them.
pub fn start(
    listen: SocketAddr,
    upstream: SocketAddr,
    workers: NonZeroUsize,
) -> io::Result<Workers> {
    Workers::start(listen, workers, BACKLOG, Accept::Serve, move || {
        move |client| forward(client, upstream)
    })
}

async fn forward(client: TcpStream, upstream: SocketAddr) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut up = std::pin::pin!(async {
        let r = copy(&mut cr, &mut sw).await;
        if r.is_ok() {
            let _ = sw.shutdown().await;
        }
        r
    });
    let mut down = std::pin::pin!(copy(&mut sr, &mut cw));
    monoio::select! {
        _ = &mut down => {}
        r = &mut up => {
            if r.is_ok() {
                let _ = down.await;
            }
        }
    }
    // Dropping the halves closes both sockets.
}

/// Copy until EOF (`Ok`) or an error.
async fn copy<R: AsyncReadRent, W: AsyncWriteRent>(from: &mut R, to: &mut W) -> io::Result<()> {
    let mut buf = Vec::with_capacity(BUF);
    loop {
        let (res, b) = from.read(buf).await;
        let n = res?;
        if n == 0 {
            return Ok(());
        }
        let (res, b) = to.write_all(b).await;
        res?;
        buf = b;
        buf.clear();
    }
}
