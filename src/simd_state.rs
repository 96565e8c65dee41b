//! Clears the upper halves of the AVX / AVX-512 registers (`vzeroupper`) after faer's
//! runtime-dispatched SIMD kernels.
//!
//! Measured on an Intel Xeon VM: after a faer dense matmul (the forward oracle's `E_y Q E_x`)
//! the upper register state was left dirty, and every following call of glibc's `log` — the
//! diagnostics take ~10⁵ logarithms per step at 128² — ran 40× slower (140 ns instead of
//! 3.4 ns per cell; a resolved paper_toy run at N = 2560 spent 24 of its 27 s there). AMD CPUs
//! do not show the penalty. Calling [`clear_upper_state`] after each faer call restores full
//! speed; it costs one instruction. The parallel tasks of the matrix-free stencil code
//! ([`crate::stencil`], the Chebyshev recurrence, the B-relax assembly) call it first, since
//! they may land on a pool thread that ran faer before (4× slower B-relax solves otherwise).

/// `vzeroupper` when the CPU has AVX; a no-op elsewhere.
#[allow(unsafe_code)]
pub fn clear_upper_state() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is available (checked above). `vzeroupper` zeroes bits 128 and up of
            // the vector registers; the calling code is compiled for baseline x86-64 (SSE2), so
            // no live value occupies those bits across this call.
            unsafe { zeroupper() }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[allow(unsafe_code)]
unsafe fn zeroupper() {
    core::arch::x86_64::_mm256_zeroupper()
}
