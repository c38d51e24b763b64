//! The XDP side of an AF_XDP port, through the `bpf()` system call alone:
//! an XSKMAP (rx queue index -> socket), a five-instruction program that
//! redirects each frame to the socket of its receive queue (frames of a
//! queue without a socket go to the kernel stack), and a BPF link that
//! attaches the program to the interface. The link is a file descriptor:
//! when it is closed, also by the death of the process, the program is
//! detached, so a crashed switch leaves no program behind.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const BPF_MAP_CREATE: i32 = 0;
const BPF_MAP_UPDATE_ELEM: i32 = 2;
const BPF_PROG_LOAD: i32 = 5;
const BPF_LINK_CREATE: i32 = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_XDP: u32 = 37;
const BPF_FUNC_REDIRECT_MAP: i32 = 51;
const BPF_PSEUDO_MAP_FD: u8 = 1;
const XDP_PASS: i32 = 2;
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// `union bpf_attr`, as a zeroed block large enough for every command
/// used here; each command's fields are written at their offsets.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32(&mut self, at: usize, v: u32) -> &mut Self {
        self.0[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, at: usize, v: u64) -> &mut Self {
        self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
}

fn bpf(cmd: i32, attr: &mut Attr) -> io::Result<i64> {
    // SAFETY: `attr` is a valid, fully initialized bpf_attr block of the
    // size passed; the kernel reads (and for some commands writes) it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut Attr as *mut libc::c_void,
            std::mem::size_of::<Attr>() as u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this new descriptor to us.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

/// The program: `return bpf_redirect_map(&xsks, ctx->rx_queue_index,
/// XDP_PASS)`.
fn program(map_fd: RawFd) -> [Insn; 6] {
    [
        // r2 = *(u32 *)(r1 + 16)   (xdp_md.rx_queue_index)
        insn(0x61, 2, 1, 16, 0),
        // r1 = map (ld_imm64, two slots)
        insn(0x18, 1, BPF_PSEUDO_MAP_FD, 0, map_fd),
        insn(0, 0, 0, 0, 0),
        // r3 = XDP_PASS (action when the queue has no socket)
        insn(0xb7, 3, 0, 0, XDP_PASS),
        // call bpf_redirect_map
        insn(0x85, 0, 0, 0, BPF_FUNC_REDIRECT_MAP),
        // exit
        insn(0x95, 0, 0, 0, 0),
    ]
}

/// The XSKMAP, the program and the link attaching it. Dropping it closes
/// the link (detaching the program), then the program and the map.
pub struct XdpAttach {
    link: OwnedFd,
    map: OwnedFd,
    _prog: OwnedFd,
    /// The mode it was attached in (`XDP_FLAGS_DRV_MODE` or `_SKB_MODE`).
    pub mode: u32,
}

impl XdpAttach {
    /// Creates the map (room for `n_queues` sockets), loads the program
    /// and links it to interface `ifindex` in `mode`.
    pub fn new(ifindex: i32, n_queues: u32, mode: u32) -> io::Result<XdpAttach> {
        let mut a = Attr::new();
        a.u32(0, BPF_MAP_TYPE_XSKMAP)
            .u32(4, 4)
            .u32(8, 4)
            .u32(12, n_queues.max(1));
        let map = owned(bpf(BPF_MAP_CREATE, &mut a)?);
        let prog_insns = program(map.as_raw_fd());
        let license = c"GPL";
        let mut log = vec![0u8; 4096];
        let mut a = Attr::new();
        a.u32(0, BPF_PROG_TYPE_XDP)
            .u32(4, prog_insns.len() as u32)
            .u64(8, prog_insns.as_ptr() as u64)
            .u64(16, license.as_ptr() as u64)
            .u32(24, 1)
            .u32(28, log.len() as u32)
            .u64(32, log.as_mut_ptr() as u64)
            // prog_name at 48 (16 bytes), prog_ifindex 64,
            // expected_attach_type 68
            .u32(68, BPF_XDP);
        a.0[48..48 + 9].copy_from_slice(b"ferrovsxs");
        let prog = match bpf(BPF_PROG_LOAD, &mut a) {
            Ok(fd) => owned(fd),
            Err(e) => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(0);
                let msg = String::from_utf8_lossy(&log[..end]);
                tracing::warn!(verifier = %msg, "XDP program refused");
                return Err(e);
            }
        };
        let mut a = Attr::new();
        a.u32(0, prog.as_raw_fd() as u32)
            .u32(4, ifindex as u32)
            .u32(8, BPF_XDP)
            .u32(12, mode);
        let link = owned(bpf(BPF_LINK_CREATE, &mut a)?);
        Ok(XdpAttach {
            link,
            map,
            _prog: prog,
            mode,
        })
    }

    /// Points queue `qid`'s map slot at socket `xsk_fd`.
    pub fn set_socket(&self, qid: u32, xsk_fd: RawFd) -> io::Result<()> {
        let key = qid;
        let val = xsk_fd as u32;
        let mut a = Attr::new();
        a.u32(0, self.map.as_raw_fd() as u32)
            .u64(8, &key as *const u32 as u64)
            .u64(16, &val as *const u32 as u64)
            .u64(24, 0);
        bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(|_| ())
    }

    pub fn link_fd(&self) -> RawFd {
        self.link.as_raw_fd()
    }
}
