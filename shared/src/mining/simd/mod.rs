//! The only code of the core allowed `unsafe`: the vector backends of the kernel. Each entry point
//! checks the CPU first and returns `None` on one without the instructions, so nothing here runs
//! an instruction the CPU lacks.

#[cfg(target_arch = "x86_64")]
pub(crate) mod shani;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(target_arch = "x86_64")]
mod x86;

use super::{Midstate, ScanResult};
use crate::target::Target;

/// Whether the AVX2 path can run here.
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        x86::has_avx2()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the AVX-512 path can run here.
pub(crate) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        x86::has_avx512()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The kernel on AVX2, or `None` without it.
pub(crate) fn scan_avx2(
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> Option<ScanResult> {
    #[cfg(target_arch = "x86_64")]
    {
        x86::scan_avx2(midstate, target, start, count)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (midstate, target, start, count);
        None
    }
}

/// The kernel on AVX-512F, or `None` without it.
pub(crate) fn scan_avx512(
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> Option<ScanResult> {
    #[cfg(target_arch = "x86_64")]
    {
        x86::scan_avx512(midstate, target, start, count)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (midstate, target, start, count);
        None
    }
}

/// Whether the SHA-NI path can run here.
pub(crate) fn has_shani() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        shani::is_available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The SHA-NI kernel, or `None` without the SHA extensions.
pub(crate) fn scan_shani(
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> Option<ScanResult> {
    #[cfg(target_arch = "x86_64")]
    {
        shani::scan(midstate, target, start, count)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (midstate, target, start, count);
        None
    }
}

/// Whether this build has the WebAssembly SIMD path: decided when it was compiled (`make wasm`
/// builds `web/pkg` with simd128), since an engine without SIMD cannot load such a module at all.
pub(crate) const HAS_SIMD128: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// The kernel on WebAssembly SIMD (four nonces per `v128`), or `None` in a build without it.
pub(crate) fn scan_simd128(
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> Option<ScanResult> {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        Some(wasm::scan(midstate, target, start, count))
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = (midstate, target, start, count);
        None
    }
}
