//! AF_XDP (in progress).
