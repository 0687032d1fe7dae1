package org.tscvm.vm;

/**
 * The x87 and SSE state of a vCPU (KVM_GET_FPU): control, status and tag words, MXCSR and the
 * 512-byte FXSAVE image ({@code fxsave}: ST(i) at 32 + 16 i, XMMi at 160 + 16 i).
 */
public record VcpuFpu(int fcw, int fsw, int ftw, int mxcsr, byte[] fxsave) {
    public VcpuFpu {
        fxsave = fxsave.clone();
    }

    @Override
    public byte[] fxsave() {
        return fxsave.clone();
    }
}
