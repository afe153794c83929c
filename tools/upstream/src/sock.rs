//! The one raw socket option the fault modes need.

use std::os::fd::AsRawFd;

/// Make the next `close()` of `socket` send RST instead of FIN (SO_LINGER on, timeout 0).
pub fn reset_on_close(socket: &impl AsRawFd) -> std::io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `socket` is an open socket borrowed for the duration of the call; the option
    // value points at a live `linger` whose exact size is passed as the length.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Shut down the sending side (FIN) while leaving the receive side open.
pub fn shutdown_write(socket: &impl AsRawFd) {
    // SAFETY: plain syscall on an open, borrowed socket fd; no memory is passed.
    unsafe {
        libc::shutdown(socket.as_raw_fd(), libc::SHUT_WR);
    }
}
