//! The largest datagram the kernel's route to a peer carries whole, and
//! the socket option that lets larger ones leave as IP fragments.
//!
//! On one host the wire runs over loopback (MTU 65,536), which carries any
//! frame whole. Between hosts a link's frame (its MTU plus the 44-byte
//! header) may exceed the interfaces' MTU (9,000-byte frames over
//! Ethernet's 1,500). quinn-udp, which sends the wire's datagrams, sets
//! the don't-fragment bit (`IP_PMTUDISC_PROBE`), so such a datagram would
//! fail to send: the wire clears it on sockets bound off loopback and
//! sends frames larger than the route's MTU one at a time (UDP
//! segmentation offload refuses segments above it), for the kernel to
//! fragment and the far kernel to reassemble.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

/// IPv4 and UDP headers (RFC 791, RFC 768).
const V4_OVERHEAD: usize = 28;
/// IPv6 and UDP headers (RFC 8200, RFC 768).
const V6_OVERHEAD: usize = 48;

/// The largest UDP payload that reaches `to` from `local` without
/// fragmentation: the MTU of the kernel's route (`IP_MTU` of a socket
/// connected to it) less the IP and UDP headers.
pub(crate) fn route_payload(local: IpAddr, to: SocketAddr) -> io::Result<usize> {
    let probe = socket2::Socket::new(socket2::Domain::for_address(to), socket2::Type::DGRAM, None)?;
    probe.bind(&SocketAddr::new(local, 0).into())?;
    probe.connect(&to.into())?;
    let (level, name, overhead) = if to.is_ipv4() {
        (libc::IPPROTO_IP, libc::IP_MTU, V4_OVERHEAD)
    } else {
        (libc::IPPROTO_IPV6, libc::IPV6_MTU, V6_OVERHEAD)
    };
    let mtu = get_int(&probe, level, name)?;
    Ok(usize::try_from(mtu).unwrap_or(0).saturating_sub(overhead))
}

/// Lets the kernel fragment datagrams larger than the route's MTU
/// (clears the don't-fragment bit quinn-udp sets).
pub(crate) fn allow_fragments(sock: &impl AsRawFd, v6: bool) -> io::Result<()> {
    if v6 {
        set_int(
            sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_DONT,
        )
    } else {
        set_int(
            sock,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_DONT,
        )
    }
}

fn get_int(sock: &impl AsRawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` is writable for `len` bytes; the kernel writes at most
    // `len` bytes.
    let r =
        unsafe { libc::getsockopt(sock.as_raw_fd(), level, name, (&raw mut v).cast(), &mut len) };
    if r == 0 {
        Ok(v)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_int(
    sock: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` is readable for `len` bytes.
    let r = unsafe { libc::setsockopt(sock.as_raw_fd(), level, name, (&raw const v).cast(), len) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_carries_the_largest_frame_whole() {
        let lo: IpAddr = "127.0.0.1".parse().expect("addr");
        // Loopback's MTU (65,536) is above what an IPv4 datagram can hold:
        // its 16-bit total length (RFC 791) leaves 65,507 bytes of UDP
        // payload: a frame of the largest link MTU validation allows
        // (65,463, with its 44-byte header).
        let p = route_payload(lo, SocketAddr::new(lo, 9)).expect("IP_MTU");
        assert_eq!(p, 65_535 - 20 - 8);
    }

    #[test]
    fn fragments_can_be_allowed() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        allow_fragments(&s, false).expect("IP_MTU_DISCOVER");
        let v = get_int(&s, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER).expect("read back");
        assert_eq!(v, libc::IP_PMTUDISC_DONT);
    }
}
