//! The few system calls the socket and device netdevs share: interface
//! lookup and flags, socket options, shared-memory mappings, and the
//! mapping of open errors to [`NetdevError`] variants.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::NetdevError;

/// Maps an error from opening `dev` to the variant vswitchd shows in the
/// interface's `error` column.
pub fn open_error(dev: &str, what: &str, e: io::Error) -> NetdevError {
    match e.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENXIO) | Some(libc::ENOENT) => {
            NetdevError::NoDevice(dev.to_string())
        }
        Some(libc::EPERM) | Some(libc::EACCES) => NetdevError::Permission(dev.to_string()),
        Some(libc::EBUSY) => NetdevError::Busy(dev.to_string()),
        _ => NetdevError::Open {
            dev: dev.to_string(),
            what: what.to_string(),
            source: e,
        },
    }
}

/// `Err(last OS error)` when `r` is negative.
pub fn check(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn ifreq(name: &str) -> Result<libc::ifreq, NetdevError> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(NetdevError::NoDevice(name.to_string()));
    }
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in r.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(r)
}

/// The interface index of `name`.
pub fn ifindex(name: &str) -> Result<i32, NetdevError> {
    let c = std::ffi::CString::new(name).map_err(|_| NetdevError::NoDevice(name.into()))?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(open_error(
            name,
            "if_nametoindex",
            io::Error::last_os_error(),
        ));
    }
    Ok(i as i32)
}

/// Brings interface `name` up (as OVS does when it adds a port).
pub fn set_up(name: &str) -> Result<(), NetdevError> {
    let mut r = ifreq(name)?;
    let s =
        socket(libc::AF_INET, libc::SOCK_DGRAM, 0).map_err(|e| open_error(name, "socket", e))?;
    // SAFETY: `r` is a valid ifreq naming the device; the ioctls read and
    // write only its flags member.
    unsafe {
        check(libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut r) as _)
            .map_err(|e| open_error(name, "SIOCGIFFLAGS", e))?;
        if r.ifr_ifru.ifru_flags & libc::IFF_UP as i16 == 0 {
            r.ifr_ifru.ifru_flags |= libc::IFF_UP as i16;
            check(libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &r) as _)
                .map_err(|e| open_error(name, "SIOCSIFFLAGS", e))?;
        }
    }
    Ok(())
}

/// The MTU of interface `name`.
pub fn mtu(name: &str) -> Result<usize, NetdevError> {
    let mut r = ifreq(name)?;
    let s =
        socket(libc::AF_INET, libc::SOCK_DGRAM, 0).map_err(|e| open_error(name, "socket", e))?;
    // SAFETY: SIOCGIFMTU fills the mtu member of the ifreq we pass.
    unsafe {
        check(libc::ioctl(s.as_raw_fd(), libc::SIOCGIFMTU, &mut r) as _)
            .map_err(|e| open_error(name, "SIOCGIFMTU", e))?;
        Ok(r.ifr_ifru.ifru_mtu.max(68) as usize)
    }
}

/// A new socket, close-on-exec and non-blocking.
pub fn socket(domain: i32, ty: i32, proto: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the descriptor is owned by the result.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, proto) };
    check(fd as _)?;
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt` with a value of any plain type.
pub fn setsockopt<T>(fd: RawFd, level: i32, opt: i32, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to size_of::<T>() readable bytes.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            v as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    check(r as _).map(|_| ())
}

/// `getsockopt` into a value of any plain type.
pub fn getsockopt<T>(fd: RawFd, level: i32, opt: i32, v: &mut T) -> io::Result<()> {
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `v` points to size_of::<T>() writable bytes, `len` says so.
    let r = unsafe { libc::getsockopt(fd, level, opt, v as *mut T as *mut libc::c_void, &mut len) };
    check(r as _).map(|_| ())
}

/// A shared mapping of a socket's rings (unmapped on drop).
pub struct Mmap {
    pub ptr: *mut u8,
    pub len: usize,
}

// SAFETY: the mapping is plain memory; the owners synchronize access to
// it through the ring protocols (atomic status words and indexes).
unsafe impl Send for Mmap {}
unsafe impl Sync for Mmap {}

impl Mmap {
    pub fn new(fd: RawFd, len: usize, offset: i64) -> io::Result<Mmap> {
        // SAFETY: a fresh shared mapping of the socket's ring; the kernel
        // checks fd, len and offset.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                offset,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: p as *mut u8,
            len,
        })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned.
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.len);
        }
    }
}
