package org.tscvm.vm;

/**
 * The x87, MMX and SSE state of a vCPU (KVM_GET_FPU, plus PKRU from KVM_GET_XSAVE and XCR0 from
 * KVM_GET_XCRS: the XSAVE feature mask, which decides what the guest's XSAVE saves). The x87
 * registers are in stack order, ST(0) first, each as FXSAVE stores it: the 64-bit significand
 * (which is also MMi when the x87 is in MMX use) then the sign and exponent in 16 bits, padded
 * to 16 bytes. {@code ftw} is the full 16-bit tag word (two bits per physical register, as FSTENV
 * stores it), {@code fop} the last x87 opcode (11 bits), {@code fip}/{@code fdp} the last
 * instruction and operand pointers with their selectors {@code fcs}/{@code fds}; {@code xmm}
 * holds XMM0-XMM15 as 32 quadwords, low half first.
 *
 * <pre>{@code
 * VcpuFpu f = vcpu.getFpu();
 * vcpu.setFpu(f.withMxcsr(0x1f80 | 0x6000)); // round toward zero
 * }</pre>
 */
public record VcpuFpu(int fcw, int fsw, int ftw, int fop, long fip, long fdp, int fcs, int fds, byte[] st,
                      long[] xmm, int mxcsr, int pkru, long xcr0) {
    /** Bytes of {@link #st}: eight registers of 16 bytes. */
    public static final int ST_BYTES = 8 * 16;
    /** Quadwords of {@link #xmm}: sixteen 128-bit registers. */
    public static final int XMM_QUADWORDS = 32;

    /** @throws IllegalArgumentException if {@code st} or {@code xmm} has the wrong length */
    public VcpuFpu {
        if (st.length != ST_BYTES) {
            throw new IllegalArgumentException("the x87 registers take " + ST_BYTES + " bytes, not " + st.length);
        }
        if (xmm.length != XMM_QUADWORDS) {
            throw new IllegalArgumentException("XMM0-15 take " + XMM_QUADWORDS + " quadwords, not " + xmm.length);
        }
        st = st.clone();
        xmm = xmm.clone();
    }

    @Override
    public byte[] st() {
        return st.clone();
    }

    @Override
    public long[] xmm() {
        return xmm.clone();
    }

    /** Quadword {@code half} (0 low, 1 high) of XMM{@code reg}. */
    public long xmm(int reg, int half) {
        return xmm[2 * reg + half];
    }

    /** MMi: the significand of physical register i (MMX aliases the x87 registers by physical number). */
    public long mm(int i) {
        int st = (i - ((fsw >>> 11) & 7)) & 7; // ST(j) is physical register (TOP + j) & 7
        long v = 0;
        for (int b = 7; b >= 0; b--) {
            v = (v << 8) | (this.st[16 * st + b] & 0xff);
        }
        return v;
    }

    /** The same state with another MXCSR. */
    public VcpuFpu withMxcsr(int newMxcsr) {
        return new VcpuFpu(fcw, fsw, ftw, fop, fip, fdp, fcs, fds, st, xmm, newMxcsr, pkru, xcr0);
    }

    /** The same state with another XCR0. */
    public VcpuFpu withXcr0(long newXcr0) {
        return new VcpuFpu(fcw, fsw, ftw, fop, fip, fdp, fcs, fds, st, xmm, mxcsr, pkru, newXcr0);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VcpuFpu f && fcw == f.fcw && fsw == f.fsw && ftw == f.ftw && fop == f.fop
                && fip == f.fip && fdp == f.fdp && fcs == f.fcs && fds == f.fds && mxcsr == f.mxcsr
                && pkru == f.pkru && xcr0 == f.xcr0 && java.util.Arrays.equals(st, f.st) && java.util.Arrays.equals(xmm, f.xmm);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(fcw, fsw, ftw, fip, fdp, mxcsr, java.util.Arrays.hashCode(st),
                java.util.Arrays.hashCode(xmm));
    }

    @Override
    public String toString() {
        return String.format("VcpuFpu[fcw=%04x fsw=%04x ftw=%04x fop=%03x fip=%x fdp=%x mxcsr=%08x pkru=%08x xcr0=%x]",
                fcw, fsw, ftw, fop, fip, fdp, mxcsr, pkru, xcr0);
    }
}
