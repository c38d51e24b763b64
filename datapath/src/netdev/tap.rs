//! Tap devices: VM ports (`tap`) and the host stack's ports (`internal`,
//! such as a bridge's LOCAL port).
//!
//! A tap device is opened (created when missing) through `/dev/net/tun`
//! with `IFF_TAP | IFF_NO_PI | IFF_VNET_HDR`: every frame read or written
//! is preceded by a 10-byte virtio-net header. `TUNSETOFFLOAD` tells the
//! kernel which offloads this end accepts (checksum, TSO4/6 with ECN, and
//! USO when the kernel has it), so the host stack or VM hands over partial
//! checksums and 64 KiB segments instead of finishing them itself, and
//! they leave through other vnet-header ports untouched. Frames written
//! to the device keep their offload state the same way. One `readv` or
//! `writev` per frame, straight between the device and a pooled buffer.
//!
//! An `internal` port is the same device under the bridge's name, created
//! by ferrovs and gone when the port is closed; the host stack sees it as
//! an ordinary interface, so an address on it works.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::afpacket::{vnet_for_tx, wait_writable};
use super::sys::{self, open_error};
use super::{DeviceDrops, Netdev, NetdevError};
use crate::batch::PacketBatch;
use crate::offload::{gro, Offload, VNET_HDR_LEN};
use crate::packet::{DpPacket, PacketPool};

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;
const IFF_TAP: i16 = 0x0002;
const IFF_NO_PI: i16 = 0x1000;
const IFF_VNET_HDR: i16 = 0x4000;
const TUN_F_CSUM: u32 = 0x01;
const TUN_F_TSO4: u32 = 0x02;
const TUN_F_TSO6: u32 = 0x04;
const TUN_F_TSO_ECN: u32 = 0x08;
const TUN_F_USO4: u32 = 0x20;
const TUN_F_USO6: u32 = 0x40;
/// Largest frame read from the device (a 64 KiB GSO segment and its
/// headers).
const MAX_FRAME: usize = 65536 + 64;

/// Which flavour of tap port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapKind {
    /// A VM's port (`type=tap`).
    Tap,
    /// A host-stack port (`type=internal`).
    Internal,
}

pub struct TapNetdev {
    name: String,
    kind: TapKind,
    fd: OwnedFd,
    /// Offloads the kernel agreed to hand us.
    offloads: u32,
    rx_packets: AtomicU64,
    rx_invalid: AtomicU64,
    tx_packets: AtomicU64,
    tx_dropped: AtomicU64,
}

impl TapNetdev {
    /// Opens tap device `name`, creating it if it does not exist. A VM's
    /// port (`Tap`) is brought up; an `Internal` port is left as the host
    /// has it (down when new), as OVS does: the host brings it up when it
    /// wants to use it, so a fresh bridge does not receive the host's IPv6
    /// router solicitations and MLD reports before anyone asked.
    pub fn open(name: &str, kind: TapKind) -> Result<TapNetdev, NetdevError> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(NetdevError::NoDevice(name.to_string()));
        }
        // SAFETY: the path is a valid C string; the descriptor is owned below.
        let fd = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        sys::check(fd as _).map_err(|e| open_error(name, "open /dev/net/tun", e))?;
        // SAFETY: fd is fresh and owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: ifreq is plain old data; zero is valid.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        ifr.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        // SAFETY: TUNSETIFF reads and writes the ifreq we pass.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut ifr) };
        sys::check(r as _).map_err(|e| open_error(name, "TUNSETIFF", e))?;
        let hdr = VNET_HDR_LEN as i32;
        // SAFETY: TUNSETVNETHDRSZ reads one int.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETVNETHDRSZ, &hdr) };
        sys::check(r as _).map_err(|e| open_error(name, "TUNSETVNETHDRSZ", e))?;
        let base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
        let mut offloads = 0;
        for want in [base | TUN_F_USO4 | TUN_F_USO6, base, TUN_F_CSUM, 0] {
            // SAFETY: TUNSETOFFLOAD takes its argument by value.
            let r = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD, want as libc::c_ulong) };
            if r == 0 {
                offloads = want;
                break;
            }
        }
        if kind == TapKind::Tap {
            sys::set_up(name)?;
        }
        Ok(TapNetdev {
            name: name.to_string(),
            kind,
            fd,
            offloads,
            rx_packets: AtomicU64::new(0),
            rx_invalid: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            tx_dropped: AtomicU64::new(0),
        })
    }

    pub fn kind(&self) -> TapKind {
        self.kind
    }
    /// The `TUN_F_*` offloads negotiated with the kernel.
    pub fn offloads(&self) -> u32 {
        self.offloads
    }
}

impl Netdev for TapNetdev {
    fn name(&self) -> &str {
        &self.name
    }
    fn rx_costly(&self) -> bool {
        true
    }
    fn n_rxq(&self) -> usize {
        1
    }
    fn n_txq(&self) -> usize {
        64
    }

    fn recv(
        &self,
        qid: usize,
        in_port: u32,
        batch: &mut PacketBatch,
        pool: &mut PacketPool,
    ) -> Result<usize, NetdevError> {
        if qid != 0 {
            return Err(NetdevError::NoQueue(qid));
        }
        let mut got = 0;
        let mut bad = 0;
        while batch.room() > 0 {
            let mut p = pool.get();
            p.reset_md(in_port);
            let mut hdr = [0u8; VNET_HDR_LEN];
            let buf = p.frame_for_fill(MAX_FRAME);
            let iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr() as *mut libc::c_void,
                    iov_len: hdr.len(),
                },
                libc::iovec {
                    iov_base: buf.as_mut_ptr() as *mut libc::c_void,
                    iov_len: buf.len(),
                },
            ];
            // SAFETY: both iovecs point to writable memory of their length.
            let n = unsafe { libc::readv(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
            if n < 0 {
                pool.put(p);
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => break,
                    Some(libc::EINTR) => continue,
                    _ => return if got > 0 { Ok(got) } else { Err(e.into()) },
                }
            }
            let n = n as usize;
            if n < VNET_HDR_LEN {
                bad += 1;
                pool.put(p);
                continue;
            }
            let len = n - VNET_HDR_LEN;
            p.truncate(len);
            match Offload::from_vnet(&hdr, len) {
                Ok(o) => {
                    p.set_offload(o);
                    let _ = batch.push(p);
                    got += 1;
                }
                Err(_) => {
                    bad += 1;
                    pool.put(p);
                }
            }
        }
        if bad > 0 {
            self.rx_invalid.fetch_add(bad, Relaxed);
        }
        self.rx_packets.fetch_add(got as u64, Relaxed);
        Ok(got)
    }

    fn send(
        &self,
        _qid: usize,
        packets: &mut Vec<DpPacket>,
        pool: &mut PacketPool,
    ) -> Result<usize, NetdevError> {
        // Consecutive TCP segments go in as one GSO packet, counted as
        // the packets handed in.
        let joined = gro::coalesce(packets, pool);
        let mut sent = joined;
        let mut dropped = 0;
        for p in packets.drain(..) {
            let mut hdr = vnet_for_tx(&p);
            let iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr() as *mut libc::c_void,
                    iov_len: hdr.len(),
                },
                libc::iovec {
                    iov_base: p.data().as_ptr() as *mut libc::c_void,
                    iov_len: p.len(),
                },
            ];
            let mut tries = 0;
            loop {
                // SAFETY: both iovecs point to readable memory of their
                // length, alive for the call.
                let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
                if n >= 0 {
                    sent += 1;
                    break;
                }
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) if tries < 16 => {
                        tries += 1;
                        wait_writable(self.fd.as_raw_fd(), 1);
                    }
                    _ => {
                        dropped += 1;
                        break;
                    }
                }
            }
            pool.put(p);
        }
        self.tx_packets.fetch_add(sent as u64, Relaxed);
        if dropped > 0 {
            self.tx_dropped.fetch_add(dropped, Relaxed);
        }
        Ok(sent)
    }

    fn rx_fd(&self, qid: usize) -> Option<RawFd> {
        (qid == 0).then(|| self.fd.as_raw_fd())
    }

    fn drops(&self) -> DeviceDrops {
        DeviceDrops {
            rx_invalid: self.rx_invalid.load(Relaxed),
            tx_dropped: self.tx_dropped.load(Relaxed),
            ..DeviceDrops::default()
        }
    }
}
