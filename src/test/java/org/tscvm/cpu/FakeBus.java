package org.tscvm.cpu;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/** A platform for CPU unit tests: records I/O and MMIO, queues interrupts, routes CPU-owned MSRs. */
final class FakeBus implements CpuBus {
    /** CPUID.7.0 EBX and ECX: FSGSBASE, SMEP, SMAP and UMIP unless a test clears them. */
    int leaf7Ebx = 1 | 1 << 7 | 1 << 20;
    /** CPUID leaf 1 ECX; bit 26 (XSAVE) lets CR4.OSXSAVE be set. */
    int leaf1Ecx = 0x1234;
    /** Leaf 0 names AuthenticAMD (the CPU then follows the APM where the vendors differ). */
    boolean amd;
    int leaf7Ecx = 1 << 2;
    /** CPUID.7.0 EDX: nothing unless a test sets bits (CET_IBT is bit 20). */
    int leaf7Edx;
    /** What XBEGIN finds ({@link CpuBus#rtm()}): absent unless a test says otherwise. */
    int rtm = CpuBus.RTM_ABSENT;
    /** CPUID.(0xD,1):EAX: XSAVEOPT, XSAVEC, XGETBV1 and XSAVES unless a test clears them. */
    int leafDSub1Eax = 0xf;

    Cpu cpu;
    final List<String> log = new ArrayList<>();
    /** Random code may hammer MMIO; keep only the first entries. */
    private static final int LOG_LIMIT = 1000;
    final ArrayDeque<Integer> pendingVectors = new ArrayDeque<>();
    int inValue = 0xab;
    long mmioValue = 0x1122334455667788L;
    long tsc = 1000;
    /** OUT to this port asks the CPU to stop, like an exit port. */
    static final int STOP_PORT = 0xf4;

    /** Whether {@link #log} records; long fuzz runs turn it off (formatting costs more than the access). */
    boolean recording = true;

    private void record(String format, Object... args) {
        if (recording && log.size() < LOG_LIMIT) {
            log.add(String.format(format, args));
        }
    }

    @Override
    public long mmioRead(long paddr, int size) {
        record("mmio read %x/%d", paddr, size);
        return size == 8 ? mmioValue : mmioValue & ((1L << (size * 8)) - 1);
    }

    @Override
    public void mmioWrite(long paddr, int size, long value) {
        record("mmio write %x/%d=%x", paddr, size, value);
    }

    @Override
    public int ioIn(int port, int size) {
        record("in %x/%d", port, size);
        return inValue;
    }

    @Override
    public void ioOut(int port, int size, int value) {
        record("out %x/%d=%x", port, size, value);
        if (port == STOP_PORT) {
            cpu.requestStop();
        }
    }

    @Override
    public long rdmsr(int index) {
        if (index == Msr.IA32_TSC) {
            return tsc;
        }
        throw CpuFault.gp0();
    }

    @Override
    public void wrmsr(int index, long value) {
        throw CpuFault.gp0();
    }

    @Override
    public void cpuid(int leaf, int subleaf, int[] out) {
        if (leaf == 0 || leaf == 7) {
            // Leaf 0: the highest basic leaf is 7 (vendor AuthenticAMD when amd is set); leaf 7:
            // the features whose CR4 bits tests set.
            out[0] = leaf == 0 ? 7 : 0;
            out[1] = leaf == 0 ? (amd ? 0x68747541 : 0) : leaf7Ebx;
            out[2] = leaf == 0 ? (amd ? 0x444d4163 : 0) : leaf7Ecx;
            out[3] = leaf == 0 ? (amd ? 0x69746e65 : 0) : leaf7Edx;
            return;
        }
        if (leaf == 0xd && subleaf == 1) {
            out[0] = leafDSub1Eax;
            out[1] = 576;
            out[2] = 0;
            out[3] = 0;
            return;
        }
        out[0] = leaf + 1;
        out[1] = subleaf + 2;
        out[2] = leaf == 1 ? leaf1Ecx : 0x1234;
        out[3] = 0x5678;
    }

    @Override
    public long rdtsc() {
        tsc += 1000;
        return tsc;
    }

    @Override
    public int tscAux() {
        return 7;
    }

    /** Counters 0-3 read as 0x100 + index; any other is #GP. */
    @Override
    public long rdpmc(int index) {
        record("rdpmc %x", index);
        if (index < 0 || index > 3) {
            throw CpuFault.gp0();
        }
        return 0x100 + index;
    }

    /** A pseudo-PMC reads as 0x1_0000_0000 plus its index, so EDX shows the high half. */
    @Override
    public long vmwarePseudoPmc(int index) {
        record("pseudo-pmc %x", index);
        return 0x1_0000_0000L + index;
    }

    @Override
    public int rtm() {
        return rtm;
    }

    @Override
    public synchronized int pendingInterrupt() {
        return pendingVectors.isEmpty() ? -1 : pendingVectors.peek();
    }

    @Override
    public synchronized int acknowledgeInterrupt() {
        return pendingVectors.poll();
    }

    synchronized void raise(int vector) {
        pendingVectors.add(vector);
        cpu.notifyInterrupt();
    }
}
